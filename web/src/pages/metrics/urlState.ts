// The chart page's state lives in its URL: /metrics?runs=a,b&keys=loss,acc&x=step&smooth=30&log=1&from=10&to=500
import { parseAxis } from "../../charts/axes";
import type { XAxis, XWindow } from "../../charts/types";

export interface ChartState {
  runs: string[];
  keys: string[];
  axis: XAxis;
  smooth: number; // slider 0..100
  log: boolean;
  window: XWindow | null;
}

function list(value: string | null): string[] {
  if (!value) return [];
  return Array.from(new Set(value.split(",").map((s) => s.trim()).filter(Boolean)));
}

export function parseChartState(search: URLSearchParams): ChartState {
  const smooth = Number(search.get("smooth") ?? "0");
  const from = search.get("from");
  const to = search.get("to");
  const min = from === null ? NaN : Number(from);
  const max = to === null ? NaN : Number(to);
  return {
    runs: list(search.get("runs")),
    keys: list(search.get("keys")),
    axis: parseAxis(search.get("x")),
    smooth: Number.isFinite(smooth) ? Math.max(0, Math.min(100, smooth)) : 0,
    log: search.get("log") === "1",
    window: Number.isFinite(min) && Number.isFinite(max) && min < max ? { min, max } : null,
  };
}

export function chartSearch(state: ChartState): string {
  const p = new URLSearchParams();
  if (state.runs.length) p.set("runs", state.runs.join(","));
  if (state.keys.length) p.set("keys", state.keys.join(","));
  p.set("x", state.axis);
  if (state.smooth > 0) p.set("smooth", String(state.smooth));
  if (state.log) p.set("log", "1");
  if (state.window) {
    p.set("from", String(state.window.min));
    p.set("to", String(state.window.max));
  }
  return p.toString().replace(/%2C/g, ",");
}

/** The chart page for some runs and keys. */
export function chartLink(runs: string[], keys: string[], axis: XAxis = "step"): string {
  return `/metrics?${chartSearch({ runs, keys, axis, smooth: 0, log: false, window: null })}`;
}
