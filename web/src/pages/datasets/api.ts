// Cairn's datasets API (/api/v1/datasets) as the dataset pages read it.
import { apiGet, MLFLOW } from "../../api/http";
import type { V1 } from "../../api/types";
import type { NumericStats } from "../../lib/profile";
import { formatCount, plural } from "../../lib/format";

export interface Profile {
  num_rows?: number;
  num_elements?: number;
  targets?: string | null;
  label_distribution?: Record<string, number> | null;
  numeric?: Record<string, NumericStats>;
  text_length?: Record<string, NumericStats>;
}

// Cairn's /api/v1 answers, as the server's OpenAPI description declares them
export type DatasetOut = V1<"DatasetOut">;
export type RunUse = V1<"RunUseOut">;
export type VersionUse = V1<"VersionUseOut">;
export type Lineage = V1<"DatasetLineage">;

export const listDatasets = (name: string, pageToken?: string) =>
  apiGet<V1<"DatasetList">>("/api/v1/datasets", {
    name: name.trim() || undefined,
    max_results: 200,
    page_token: pageToken,
  });

export const getLineage = (id: string) => apiGet<Lineage>(`/api/v1/datasets/${encodeURIComponent(id)}`);

/** The profile when it has the shape Cairn's SDK writes, else null. */
export function asProfile(p: unknown): Profile | null {
  return p !== null && typeof p === "object" && !Array.isArray(p) ? (p as Profile) : null;
}

export { sourceText } from "../../lib/profile";

export interface SchemaColumn {
  name: string;
  type: string;
  required?: boolean;
}

/** Columns of an MLflow schema (`{"mlflow_colspec": [...]}`, `{"mlflow_tensorspec": ...}` or a bare list). */
export function schemaColumns(schema: unknown): SchemaColumn[] {
  const s = schema as Record<string, unknown> | unknown[] | null;
  const list = Array.isArray(s) ? s : s && typeof s === "object" ? (s.mlflow_colspec ?? s.mlflow_tensorspec ?? null) : null;
  const parsed = typeof list === "string" ? safeJson(list) : list;
  if (!Array.isArray(parsed)) return [];
  return parsed.map((c, i) => {
    const o = (c ?? {}) as Record<string, unknown>;
    const type = typeof o.type === "string" ? o.type : o["tensor-spec"] ? JSON.stringify(o["tensor-spec"]) : JSON.stringify(o);
    return { name: typeof o.name === "string" ? o.name : `#${i}`, type, required: typeof o.required === "boolean" ? o.required : undefined };
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Experiment names by id (active and deleted, first 1,000), to name where datasets live. */
export async function experimentNames(): Promise<Map<string, string>> {
  const r = await apiGet<{ experiments?: { experiment_id: string; name: string }[] }>(`${MLFLOW}/experiments/search`, {
    max_results: 1000,
    view_type: "ALL",
  });
  return new Map((r.experiments ?? []).map((e) => [e.experiment_id, e.name]));
}

/** The id of the dataset an experiment's runs logged under this name and digest (what a run's
 * inputs name it by), or null when it is not found among the first 200 of that name. */
export async function findDatasetId(experimentId: string, name: string, digest: string, signal?: AbortSignal): Promise<string | null> {
  const r = await apiGet<V1<"DatasetList">>("/api/v1/datasets", { experiment_id: experimentId, name, max_results: 200 }, signal);
  return r.datasets.find((d) => d.digest === digest)?.dataset_id ?? null;
}

/** "7 datasets, used 9 times": how many distinct datasets and how often runs logged them
 * (a dataset two runs logged counts once, its uses twice); "200+ datasets" when there are more. */
export function datasetsSummary(runCounts: number[], more: boolean): string {
  const uses = runCounts.reduce((a, n) => a + n, 0);
  if (more) return `${formatCount(runCounts.length)}+ datasets`;
  const head = plural(runCounts.length, "dataset");
  return uses === runCounts.length ? head : `${head}, used ${plural(uses, "time")}`;
}
