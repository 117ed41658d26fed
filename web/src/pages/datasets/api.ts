// Cairn's datasets API (/api/v1/datasets) as the dataset pages read it.
import { apiGet, MLFLOW } from "../../api/http";
import type { V1 } from "../../api/types";
import type { NumericStats } from "../../lib/profile";

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

/** A short text for a dataset source: its uri/path/url when it has one, else its JSON. */
export function sourceText(source: unknown): string {
  if (source === null || source === undefined) return "";
  if (typeof source === "string") return source;
  if (typeof source === "object") {
    const o = source as Record<string, unknown>;
    for (const k of ["uri", "path", "url", "table_name", "location"]) if (typeof o[k] === "string") return o[k] as string;
    return JSON.stringify(source);
  }
  return String(source);
}

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
