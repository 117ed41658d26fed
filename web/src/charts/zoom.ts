// Keyboard zoom and pan of a chart's x window: which key does what, and the window arithmetic
// (kept apart from the chart so it can be tested without a browser).
import { AXIS_LABELS, formatX, toPlotX, toWindow } from "./axes";
import type { XAxis, XWindow } from "./types";

export type ZoomStep = "in" | "out" | "left" | "right";
export type ChartKeyAction = ZoomStep | "reset";

/** What a key pressed on a focused chart does, or null for keys the chart leaves alone. With
 * Ctrl, Cmd or Alt the key is the browser's (Ctrl + and Ctrl 0 zoom the page); Shift is allowed,
 * since "+" needs it on many layouts. */
export function chartKeyAction(e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey">): ChartKeyAction | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  switch (e.key) {
    case "+":
    case "=":
      return "in";
    case "-":
      return "out";
    case "ArrowLeft":
      return "left";
    case "ArrowRight":
      return "right";
    case "0":
    case "Escape":
      return "reset";
    default:
      return null;
  }
}

/** The part of `w` inside `extent`; null when that is the whole extent or nothing of it. */
function inside(w: XWindow, extent: XWindow): XWindow | null {
  const min = Math.max(w.min, extent.min);
  const max = Math.min(w.max, extent.max);
  if (max <= min || (min === extent.min && max === extent.max)) return null;
  return { min, max };
}

/** `w` slid, its width kept, to lie inside `extent`; null when it is as wide as the extent. */
function slideInside(w: XWindow, extent: XWindow): XWindow | null {
  const width = w.max - w.min;
  if (width >= extent.max - extent.min) return null;
  const min = Math.min(Math.max(w.min, extent.min), extent.max - width);
  return { min, max: min + width };
}

/** The window after one keyboard step, on the server's axis (steps or milliseconds).
 *
 * `win` is the current window (null: the whole range) and `extent` the x range of all the data
 * (the server's `x_min`/`x_max` when asked without a window; null when there are no points).
 * "in" halves the window's width around its centre, "out" doubles it, "left"/"right" move it by
 * a quarter of its width (at least one unit). The result is in whole units (as `toWindow`
 * rounds a drag selection), stays inside the extent, and is null when it covers all of it, so
 * zooming out to everything is the same as a reset. When the step changes nothing (no data,
 * panning at an edge, a window too narrow to halve), `win` itself comes back. */
export function stepWindow(step: ZoomStep, win: XWindow | null, extent: XWindow | null): XWindow | null {
  const all = extent && toWindow(extent.min, extent.max);
  if (!all) return win;
  const rounded = win && toWindow(win.min, win.max);
  const cur = (rounded && inside(rounded, all)) ?? all;
  const width = cur.max - cur.min;
  const centre = (cur.min + cur.max) / 2;
  let next: XWindow | null;
  if (step === "in") next = toWindow(centre - width / 4, centre + width / 4);
  else if (step === "out") next = slideInside({ min: centre - width, max: centre + width }, all);
  else {
    const by = Math.max(1, Math.round(width / 4)) * (step === "left" ? -1 : 1);
    next = slideInside({ min: cur.min + by, max: cur.max + by }, all);
  }
  if (next) next = toWindow(next.min, next.max);
  if (next) next = inside(next, all);
  const same = next === null ? win === null : win !== null && next.min === win.min && next.max === win.max;
  return same ? win : next;
}

/** The window in words, for screen readers: "Step 100 to 200", or "Whole range". */
export function describeWindow(axis: XAxis, win: XWindow | null): string {
  if (!win) return "Whole range";
  return `${AXIS_LABELS[axis]} ${formatX(axis, toPlotX(axis, win.min))} to ${formatX(axis, toPlotX(axis, win.max))}`;
}
