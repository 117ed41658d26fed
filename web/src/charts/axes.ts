// The x axes: the server speaks steps and milliseconds, uPlot's time scale wants seconds.
import type { XAxis, XWindow } from "./types";

/** The server's x (step, or ms) as the value uPlot plots. */
export function toPlotX(axis: XAxis, x: number): number {
  return axis === "step" ? x : x / 1000;
}

/** A plotted x back on the server's axis. */
export function fromPlotX(axis: XAxis, x: number): number {
  return axis === "step" ? x : x * 1000;
}

/** A range on the server's axis as a window of whole steps or milliseconds, widened outwards
 * so every point inside the range stays inside; null when it is empty or not finite. */
export function toWindow(from: number, to: number): XWindow | null {
  if (!Number.isFinite(from) || !Number.isFinite(to)) return null;
  const min = Math.floor(Math.min(from, to));
  const max = Math.ceil(Math.max(from, to));
  if (max <= min) return null;
  return { min, max };
}

/** A zoom selection in plot units as the window to ask the server for. */
export function selectionToWindow(axis: XAxis, left: number, right: number): XWindow | null {
  return toWindow(fromPlotX(axis, left), fromPlotX(axis, right));
}

/** "1h 02m 03s" style label for a relative time in seconds. */
export function formatRelative(seconds: number): string {
  if (!Number.isFinite(seconds)) return "";
  const sign = seconds < 0 ? "-" : "";
  let s = Math.abs(seconds);
  if (s < 60) return `${sign}${Number(s.toFixed(s < 10 ? 2 : 1))}s`;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s = Math.round(s - m * 60);
  const mm = String(m).padStart(h ? 2 : 1, "0");
  const ss = String(s).padStart(2, "0");
  return h ? `${sign}${h}h ${mm}m ${ss}s` : `${sign}${mm}m ${ss}s`;
}

/** A tick label on the relative axis: only the units that are not zero ("5m", "1h 30m",
 * "2d 4h"), so ticks at round intervals read at a glance. */
export function formatRelativeTick(seconds: number): string {
  if (!Number.isFinite(seconds)) return "";
  if (Math.abs(seconds) < 60) return formatRelative(seconds);
  const sign = seconds < 0 ? "-" : "";
  let s = Math.round(Math.abs(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]] as const) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n) parts.push(`${n}${unit}`);
  }
  return sign + parts.join(" ");
}

/** Tick intervals (seconds) for the relative axis: round durations, from a millisecond to a week. */
export const RELATIVE_INCRS = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400,
  172_800, 604_800,
];

/** The label for a plotted x value on each axis. */
export function formatX(axis: XAxis, plotX: number): string {
  if (axis === "step") return Number.isInteger(plotX) ? String(plotX) : `≈${Math.round(plotX)}`;
  if (axis === "relative") return formatRelative(plotX);
  const d = new Date(plotX * 1000);
  return d.toLocaleString();
}

export const AXIS_LABELS: Record<XAxis, string> = {
  step: "Step",
  relative: "Relative time",
  wall: "Wall time",
};

export function parseAxis(value: string | null | undefined): XAxis {
  return value === "relative" || value === "wall" ? value : "step";
}

/** Values a log scale cannot draw (≤ 0) become gaps. */
export function forLogScale(values: (number | null)[], log: boolean): (number | null)[] {
  if (!log) return values;
  return values.map((v) => (v === null || v <= 0 ? null : v));
}
