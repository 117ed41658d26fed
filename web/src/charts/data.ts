// Buckets from the server → the column arrays uPlot draws: per series a mean line (smoothed on
// request) and a min–max band, so a one-point spike stays a visible spike.
import { forLogScale, toPlotX } from "./axes";
import { ema } from "./smoothing";
import type { DownsampleResponse, SeriesBuckets, XAxis } from "./types";

export type Column = (number | null)[];

export interface PlotSeries {
  runId: string;
  key: string;
  /** column indexes in `data` */
  mean: number;
  min: number;
  max: number;
  points: number;
  nonFinite: number;
}

export interface PlotData {
  /** [x, then mean, min, max per series] */
  data: [number[], ...Column[]];
  series: PlotSeries[];
  /** the largest finite value of all series (what a spike check compares with) */
  maxValue: number | null;
  minValue: number | null;
}

export interface PlotOptions {
  axis: XAxis;
  smoothing: number; // EMA weight, 0 = off
  log: boolean;
}

/** Where a bucket is drawn: the middle of its points' x range. */
export function bucketX(s: SeriesBuckets, i: number, axis: XAxis): number {
  return toPlotX(axis, (s.x_first[i] + s.x_last[i]) / 2);
}

/** Merge per-series (x, columns) tables on their x values (sorted union; a series without a
 * point at some x gets null there). */
export function alignTables(tables: { x: number[]; cols: Column[] }[]): [number[], ...Column[]] {
  if (tables.length === 0) return [[]];
  const first = tables[0].x;
  const same = tables.every((t) => t.x.length === first.length && t.x.every((v, i) => v === first[i]));
  if (same) return [first.slice(), ...tables.flatMap((t) => t.cols)];
  const xs = Array.from(new Set(tables.flatMap((t) => t.x))).sort((a, b) => a - b);
  const at = new Map<number, number>();
  xs.forEach((x, i) => at.set(x, i));
  const out: [number[], ...Column[]] = [xs];
  for (const t of tables) {
    for (const col of t.cols) {
      const full: Column = new Array(xs.length).fill(null);
      t.x.forEach((x, i) => {
        full[at.get(x)!] = col[i];
      });
      out.push(full);
    }
  }
  return out;
}

export function toPlotData(resp: DownsampleResponse, opts: PlotOptions): PlotData {
  const tables: { x: number[]; cols: Column[] }[] = [];
  const series: PlotSeries[] = [];
  let maxValue: number | null = null;
  let minValue: number | null = null;
  resp.series.forEach((s, k) => {
    const x = s.x_first.map((_, i) => bucketX(s, i, opts.axis));
    const mean = forLogScale(ema(s.mean, opts.smoothing), opts.log);
    const min = forLogScale(s.min, opts.log);
    const max = forLogScale(s.max, opts.log);
    tables.push({ x, cols: [mean, min, max] });
    for (const v of s.max) if (maxValue === null || v > maxValue) maxValue = v;
    for (const v of s.min) if (minValue === null || v < minValue) minValue = v;
    series.push({
      runId: s.run_id,
      key: s.key,
      mean: 1 + 3 * k,
      min: 2 + 3 * k,
      max: 3 + 3 * k,
      points: s.point_count,
      nonFinite: s.nan_count + s.pos_inf_count + s.neg_inf_count,
    });
  });
  return { data: alignTables(tables), series, maxValue, minValue };
}

/** Chart width in CSS pixels → buckets to ask for: one per pixel, rounded up to a multiple of
 * 100 so resizing by a few pixels does not refetch. */
export function bucketsForWidth(pixels: number): number {
  const w = Math.ceil(Math.max(100, pixels) / 100) * 100;
  return Math.min(5000, w);
}

/** Buckets per series for a chart of `series` lines: one per pixel while that stays within
 * `budget` buckets for the whole chart, fewer (but at least 20) for many runs, so a chart of
 * a thousand runs is about as heavy to fetch and draw as one of a hundred. Each bucket is
 * one indexed range scan on the server (or a few block summaries), each costs JSON to send,
 * parse and draw, and a hundred overlapping curves, each with its min/max band, need no more
 * than a point every four pixels: a 100-run chart asks 100 per series (docs/ui.md). */
export const CHART_BUCKET_BUDGET = 10_000;
export function bucketsForSeries(pixels: number, series: number, budget: number = CHART_BUCKET_BUDGET): number {
  const full = bucketsForWidth(pixels);
  if (series <= 0) return full;
  return Math.max(20, Math.min(full, Math.floor(budget / series / 10) * 10));
}

/** Split run × key pairs into requests of at most `limit` series each (runs × keys per
 * request, the server's limit is on the product). */
export function requestGroups(runs: string[], keys: string[], limit: number): { runs: string[]; keys: string[] }[] {
  if (runs.length === 0 || keys.length === 0) return [];
  const keysPer = Math.min(keys.length, limit);
  const out: { runs: string[]; keys: string[] }[] = [];
  for (let k = 0; k < keys.length; k += keysPer) {
    const ks = keys.slice(k, k + keysPer);
    const runsPer = Math.max(1, Math.floor(limit / ks.length));
    for (let r = 0; r < runs.length; r += runsPer) out.push({ runs: runs.slice(r, r + runsPer), keys: ks });
  }
  return out;
}

/** Several answers (one per request group) as one, series in run-major, key-minor order. */
export function mergeResponses(parts: DownsampleResponse[], runs: string[], keys: string[]): DownsampleResponse | null {
  if (parts.length === 0) return null;
  const bySeries = new Map<string, SeriesBuckets>();
  for (const p of parts) for (const s of p.series) bySeries.set(`${s.run_id}\u0000${s.key}`, s);
  const series: SeriesBuckets[] = [];
  for (const r of runs) for (const k of keys) {
    const s = bySeries.get(`${r}\u0000${k}`);
    if (s) series.push(s);
  }
  const mins = parts.map((p) => p.x_min).filter((v): v is number => v !== null);
  const maxs = parts.map((p) => p.x_max).filter((v): v is number => v !== null);
  return {
    x: parts[0].x,
    width: parts[0].width,
    bucket_count: Math.max(...parts.map((p) => p.bucket_count)),
    x_min: mins.length ? Math.min(...mins) : null,
    x_max: maxs.length ? Math.max(...maxs) : null,
    series,
  };
}

/** A distinct colour per series, stable for its index. */
export const PALETTE = ["#2f6fdb", "#e0672b", "#2a9d5c", "#c0398d", "#8a63d2", "#b8860b", "#1f9fb4", "#d64545", "#6b7c93", "#5d9c1f"];
export function colorFor(i: number): string {
  return PALETTE[i % PALETTE.length];
}
