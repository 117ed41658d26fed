// The pure part of the compare view: which rows differ, which to hide, the axes of the
// parallel-coordinates chart, scatter points and box-plot groups. No React, no fetching.
import type { V1 } from "../../api/types";

export type MetricValue = number | string;

/** The most runs the compare view (and POST /api/v1/runs/compare) takes. */
export const MAX_COMPARE_RUNS = 100;

/** A run of /api/v1/runs/compare (V1<"ComparedRunOut">; a metric value is a number or MLflow's
 * "NaN", "Infinity", "-Infinity"), its `metric_steps` optional. */
export type CompareRun = Omit<V1<"ComparedRunOut">, "metric_steps"> & {
  /** the step of each metric's latest value */
  metric_steps?: Record<string, number>;
};

export type FieldKind = "param" | "metric";

export interface Field {
  kind: FieldKind;
  key: string;
}

export interface Row extends Field {
  /** one cell per run, in run order; null where the run has no such key */
  values: (string | number | null)[];
  /** two runs that have the key disagree (a run without it is no difference) */
  differs: boolean;
  /** how many of the runs have the key */
  present: number;
}

/** A metric value as a number (the server sends "NaN"/"Infinity" as strings). */
export function metricNumber(v: MetricValue | undefined | null): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "number") return v;
  if (v === "NaN") return Number.NaN;
  if (v === "Infinity") return Number.POSITIVE_INFINITY;
  if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
  const n = Number(v);
  return Number.isNaN(n) ? null : n;
}

function sortedKeys(runs: CompareRun[], pick: (r: CompareRun) => Record<string, unknown>): string[] {
  const keys = new Set<string>();
  for (const r of runs) for (const k of Object.keys(pick(r))) keys.add(k);
  return [...keys].sort((a, b) => a.localeCompare(b));
}

export function paramKeys(runs: CompareRun[]): string[] {
  return sortedKeys(runs, (r) => r.params);
}

export function metricKeys(runs: CompareRun[]): string[] {
  return sortedKeys(runs, (r) => r.metrics);
}

function same(a: string | number | null, b: string | number | null): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b || (Number.isNaN(a) && Number.isNaN(b));
  return a === b;
}

/** A row differs when two runs that have the key disagree; a run missing it is not a difference. */
export function differs(values: (string | number | null)[]): boolean {
  const set = values.filter((v) => v !== null);
  for (let i = 1; i < set.length; i++) if (!same(set[0], set[i])) return true;
  return false;
}

/** Param rows then metric rows, keys sorted, each with its per-run cells and whether it differs. */
export function buildRows(runs: CompareRun[]): Row[] {
  const rows: Row[] = [];
  for (const key of paramKeys(runs)) {
    const values = runs.map((r) => (key in r.params ? r.params[key] : null));
    rows.push({ kind: "param", key, values, differs: differs(values), present: values.filter((v) => v !== null).length });
  }
  for (const key of metricKeys(runs)) {
    const values = runs.map((r) => metricNumber(r.metrics[key]));
    rows.push({ kind: "metric", key, values, differs: differs(values), present: values.filter((v) => v !== null).length });
  }
  return rows;
}

/** A key only one of several runs has: nothing to compare it with. */
export function singleRunKey(row: Row): boolean {
  return row.present <= 1 && row.values.length > 1;
}

/** Rows to show: all, or only those that differ; keys only one run has only with `showSingles`;
 * `filter` narrows by key (case-insensitive). */
export function visibleRows(rows: Row[], hideEqual: boolean, filter = "", showSingles = true): Row[] {
  const f = filter.trim().toLowerCase();
  return rows.filter((r) => (!hideEqual || r.differs) && (showSingles || !singleRunKey(r)) && (!f || r.key.toLowerCase().includes(f)));
}

/** A field's value for one run: metrics as numbers, params as given (numeric text as a number). */
export function fieldValue(run: CompareRun, field: Field): number | string | null {
  if (field.kind === "metric") {
    const n = metricNumber(run.metrics[field.key]);
    return n === null || !Number.isFinite(n) ? null : n;
  }
  const raw = run.params[field.key];
  if (raw === undefined) return null;
  return raw;
}

/** True when every present value of the field reads as a finite number. */
export function isNumericField(runs: CompareRun[], field: Field): boolean {
  let seen = false;
  for (const r of runs) {
    const v = fieldValue(r, field);
    if (v === null) continue;
    seen = true;
    if (typeof v === "number") continue;
    if (v.trim() === "" || !Number.isFinite(Number(v))) return false;
  }
  return seen;
}

export function fieldLabel(f: Field): string {
  return `${f.kind === "param" ? "param" : "metric"}: ${f.key}`;
}

export function fieldId(f: Field): string {
  return `${f.kind}:${f.key}`;
}

export function parseFieldId(id: string): Field | null {
  const i = id.indexOf(":");
  if (i < 0) return null;
  const kind = id.slice(0, i);
  if (kind !== "param" && kind !== "metric") return null;
  return { kind, key: id.slice(i + 1) };
}

export interface ParallelAxis {
  dim: number;
  name: string;
  field: Field;
  type: "value" | "category";
  /** category axes: the values in order */
  data?: string[];
}

export const MISSING = "—";

/** Axes for the parallel-coordinates chart: numeric fields as value axes, the rest as category
 * axes (missing values shown as "—"); params first, then metrics. */
export function parallelAxes(runs: CompareRun[], fields: Field[]): ParallelAxis[] {
  return fields.map((field, dim) => {
    if (isNumericField(runs, field)) return { dim, name: field.key, field, type: "value" };
    const cats = new Set<string>();
    for (const r of runs) {
      const v = fieldValue(r, field);
      cats.add(v === null ? MISSING : String(v));
    }
    const data = [...cats].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    return { dim, name: field.key, field, type: "category", data };
  });
}

/** One line per run for the parallel chart: numbers on value axes, category names on the others. */
export function parallelData(runs: CompareRun[], axes: ParallelAxis[]): (number | string | null)[][] {
  return runs.map((r) =>
    axes.map((a) => {
      const v = fieldValue(r, a.field);
      if (a.type === "category") return v === null ? MISSING : String(v);
      return v === null ? null : Number(v);
    }),
  );
}

/** The fields worth an axis: params and metrics whose values differ between runs (all when
 * none differ), at most `limit` of them, params first. */
export function defaultParallelFields(rows: Row[], limit = 12): Field[] {
  const differing = rows.filter((r) => r.differs);
  const pool = differing.length > 0 ? differing : rows;
  const params = pool.filter((r) => r.kind === "param");
  const metrics = pool.filter((r) => r.kind === "metric");
  const m = Math.min(metrics.length, Math.max(1, Math.floor(limit / 3)));
  const p = Math.min(params.length, limit - m);
  return [...params.slice(0, p), ...metrics.slice(0, limit - p)].map(({ kind, key }) => ({ kind, key }));
}

export interface ScatterPoint {
  x: number | string;
  y: number | string;
  runIndex: number;
}

/** Points for a scatter of field `x` against field `y`; runs missing either are left out. */
export function scatterPoints(runs: CompareRun[], x: Field, y: Field): ScatterPoint[] {
  const out: ScatterPoint[] = [];
  const xNum = isNumericField(runs, x);
  const yNum = isNumericField(runs, y);
  runs.forEach((r, runIndex) => {
    const xv = fieldValue(r, x);
    const yv = fieldValue(r, y);
    if (xv === null || yv === null) return;
    out.push({ x: xNum ? Number(xv) : String(xv), y: yNum ? Number(yv) : String(yv), runIndex });
  });
  return out;
}

/** The q-quantile of sorted numbers, linear between closest ranks. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface BoxGroup {
  name: string;
  /** [min, Q1, median, Q3, max] */
  box: [number, number, number, number, number];
  values: number[];
  runIndexes: number[];
}

/** A metric's values grouped by a param's value (runs without the param form the "—" group,
 * runs without a finite metric are left out), groups in natural order of the param value. */
export function groupForBox(runs: CompareRun[], metric: string, param: string): BoxGroup[] {
  const groups = new Map<string, { values: number[]; runIndexes: number[] }>();
  runs.forEach((r, i) => {
    const v = metricNumber(r.metrics[metric]);
    if (v === null || !Number.isFinite(v)) return;
    const name = param in r.params ? r.params[param] : MISSING;
    const g = groups.get(name) ?? { values: [], runIndexes: [] };
    g.values.push(v);
    g.runIndexes.push(i);
    groups.set(name, g);
  });
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))
    .map(([name, g]) => {
      const s = [...g.values].sort((a, b) => a - b);
      return {
        name,
        box: [s[0], quantile(s, 0.25), quantile(s, 0.5), quantile(s, 0.75), s[s.length - 1]],
        values: g.values,
        runIndexes: g.runIndexes,
      };
    });
}

/** The run ids in a `?runs=a,b,c` value: split on commas, blanks and duplicates dropped. */
export function parseRunIds(value: string | null): string[] {
  if (!value) return [];
  return [...new Set(value.split(",").map((s) => s.trim()).filter(Boolean))];
}

/** A short label for a run: its name, else the first 8 characters of its id. */
export function runLabel(run: Pick<CompareRun, "run_id" | "run_name">): string {
  return run.run_name || run.run_id.slice(0, 8);
}

/** Format a cell for the table. */
export function formatValue(v: string | number | null): string {
  if (v === null) return MISSING;
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "NaN";
    if (!Number.isFinite(v)) return v > 0 ? "∞" : "-∞";
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-4 || a >= 1e6) ? v.toExponential(4) : String(Number(v.toPrecision(6)));
  }
  return v;
}

/** True when every run that has the metric logged its latest value at step 0 or before (and
 * the server said so): its values are a single number per run, no history to fetch. */
export function singleStepMetric(runs: CompareRun[], key: string): boolean {
  for (const r of runs) {
    if (!(key in r.metrics)) continue;
    const step = r.metric_steps?.[key];
    if (step === undefined || step > 0) return false;
  }
  return true;
}

/** The run columns to put in the page for a horizontal scroll position: those overlapping
 * the `viewport` pixels after `scrollLeft`, plus `overscan` on each side; `last` is exclusive. */
export function columnWindow(scrollLeft: number, viewport: number, count: number, colWidth: number, overscan: number): { first: number; last: number } {
  const first = Math.max(0, Math.floor(scrollLeft / colWidth) - overscan);
  const last = Math.min(count, Math.ceil((scrollLeft + Math.max(viewport, colWidth)) / colWidth) + overscan);
  return { first: Math.min(first, last), last };
}
