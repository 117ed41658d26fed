// A run prepared for the table: its params, latest metrics and tags as maps, built once per
// run object (the search answer's runs are never mutated).
import { metricNumber, type Run } from "../../api/types";
import { formatNumber, formatTimestamp, runDuration } from "../../lib/format";
import { parseColumnId } from "./columns";
import { PARENT_TAG } from "./tree";

export interface RunRow {
  run: Run;
  id: string;
  name: string;
  parentId: string | null;
  deleted: boolean;
  params: Map<string, string>;
  metrics: Map<string, number | string>;
  tags: Map<string, string>;
}

const cache = new WeakMap<Run, RunRow>();

export function runRow(run: Run): RunRow {
  let row = cache.get(run);
  if (row) return row;
  const params = new Map<string, string>();
  for (const p of run.data.params ?? []) params.set(p.key, p.value);
  const metrics = new Map<string, number | string>();
  for (const m of run.data.metrics ?? []) metrics.set(m.key, typeof m.value === "number" ? m.value : m.value);
  const tags = new Map<string, string>();
  for (const t of run.data.tags ?? []) tags.set(t.key, t.value);
  row = {
    run,
    id: run.info.run_id,
    name: run.info.run_name || tags.get("mlflow.runName") || run.info.run_id.slice(0, 8),
    parentId: tags.get(PARENT_TAG) ?? null,
    deleted: run.info.lifecycle_stage === "deleted",
    params,
    metrics,
    tags,
  };
  cache.set(run, row);
  return row;
}

export function sourceName(row: RunRow): string {
  const src = row.tags.get("mlflow.source.name") ?? "";
  const base = src.split(/[\\/]/).pop() ?? src;
  return base;
}

/** A cell's raw value (for CSV and sorting checks). */
export function cellValue(row: RunRow, id: string, now: number = Date.now()): string | number | null {
  const col = parseColumnId(id);
  if (!col) return null;
  switch (col.kind) {
    case "params":
      return row.params.get(col.key) ?? null;
    case "tags":
      return row.tags.get(col.key) ?? null;
    case "metrics": {
      const v = row.metrics.get(col.key);
      return v === undefined ? null : typeof v === "number" ? v : String(metricNumber(v as never));
    }
    case "attributes": {
      const info = row.run.info;
      switch (col.key) {
        case "status":
          return info.status;
        case "start_time":
          return info.start_time ? formatTimestamp(info.start_time) : null;
        case "duration": {
          const d = runDuration(info.start_time, info.end_time, info.status, now);
          return d === null ? null : Math.round(d) / 1000;
        }
        case "user_id":
          return info.user_id ?? null;
        case "source":
          return sourceName(row) || null;
        case "datasets":
          return datasetNames(row).join("; ") || null;
        default:
          return null;
      }
    }
  }
}

/** The names of the datasets a run used (as logged inputs), each once. */
export function datasetNames(row: RunRow): string[] {
  const names = new Set<string>();
  for (const d of row.run.inputs?.dataset_inputs ?? []) if (d.dataset?.name) names.add(d.dataset.name);
  return [...names];
}

export function displayMetric(v: number | string | undefined): string {
  return v === undefined ? "" : formatNumber(v);
}
