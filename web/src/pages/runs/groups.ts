// Runs grouped by a param or a tag, with each metric aggregated over the group's runs.
import { metricNumber } from "../../api/types";
import { byCodePoint } from "../../lib/format";
import { parseColumnId } from "./columns";
import type { RunRow } from "./runRow";
import type { Aggregate } from "./urlState";

export const NO_VALUE = "(not set)";

export interface RunGroup {
  value: string;
  /** the group's value is missing on its runs */
  missing: boolean;
  runs: RunRow[];
  /** per metric key: the aggregate over the runs that have the metric, and how many do */
  metrics: Map<string, { value: number | null; count: number }>;
}

/** A metric's value as a finite number, or null (a string "NaN" or infinity is no number to average). */
function numeric(v: number | string | undefined): number | null {
  if (v === undefined) return null;
  const n = typeof v === "number" ? v : metricNumber(v as never);
  return Number.isFinite(n) ? n : null;
}

export function aggregate(values: number[], agg: Aggregate): number | null {
  if (!values.length) return null;
  if (agg === "min") return Math.min(...values);
  if (agg === "max") return Math.max(...values);
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** The groups of `rows` by the param or tag `group` (a column id), largest first, then by
 * value; runs without the key form the last group. */
export function groupRuns(rows: RunRow[], group: string, metricKeys: string[], agg: Aggregate): RunGroup[] {
  const col = parseColumnId(group);
  if (!col || (col.kind !== "params" && col.kind !== "tags")) return [];
  const byValue = new Map<string, RunRow[]>();
  const missing: RunRow[] = [];
  for (const r of rows) {
    const v = (col.kind === "params" ? r.params : r.tags).get(col.key);
    if (v === undefined) missing.push(r);
    else {
      const list = byValue.get(v);
      if (list) list.push(r);
      else byValue.set(v, [r]);
    }
  }
  const make = (value: string, runs: RunRow[], isMissing: boolean): RunGroup => {
    const metrics = new Map<string, { value: number | null; count: number }>();
    for (const key of metricKeys) {
      const values: number[] = [];
      for (const r of runs) {
        const n = numeric(r.metrics.get(key));
        if (n !== null) values.push(n);
      }
      metrics.set(key, { value: aggregate(values, agg), count: values.length });
    }
    return { value, missing: isMissing, runs, metrics };
  };
  const out = [...byValue.entries()]
    .sort((a, b) => b[1].length - a[1].length || byCodePoint(a[0], b[0]))
    .map(([v, runs]) => make(v, runs, false));
  if (missing.length) out.push(make(NO_VALUE, missing, true));
  return out;
}

/** The filter that shows one group's runs: `params.lr = '0.1'` (quotes escaped). */
export function groupFilter(group: string, value: string): string {
  const col = parseColumnId(group);
  if (!col) return "";
  const key = /^[A-Za-z_][A-Za-z0-9_]*$/.test(col.key) ? col.key : `\`${col.key}\``;
  return `${col.kind}.${key} = '${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}
