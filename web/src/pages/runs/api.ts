// What the runs table asks beside the run search: renaming a run, the registered model
// versions made from the loaded runs, and the metrics the models' policies judge by.
import { apiDelete, apiGet, apiPost, apiPut, MLFLOW } from "../../api/http";
import type { SavedView } from "./savedViews";

export function renameRun(runId: string, name: string): Promise<unknown> {
  return apiPost(`${MLFLOW}/runs/update`, { run_id: runId, run_name: name });
}

export interface Registered {
  name: string;
  version: string;
}

const IDS_PER_SEARCH = 100;

function quote(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** run id → the registry versions whose run is that run (newest first), a search per 100 runs. */
export async function registeredVersions(runIds: string[], signal?: AbortSignal): Promise<Map<string, Registered[]>> {
  const out = new Map<string, Registered[]>();
  for (let i = 0; i < runIds.length; i += IDS_PER_SEARCH) {
    const ids = runIds.slice(i, i + IDS_PER_SEARCH);
    const found = await apiGet<{ model_versions?: { name: string; version: string; run_id?: string }[] }>(
      `${MLFLOW}/model-versions/search`,
      { filter: `run_id IN (${ids.map(quote).join(",")})`, max_results: 1000 },
      signal,
    );
    for (const v of found.model_versions ?? []) {
      if (!v.run_id) continue;
      const list = out.get(v.run_id) ?? [];
      list.push({ name: v.name, version: String(v.version) });
      out.set(v.run_id, list);
    }
  }
  for (const list of out.values()) list.sort((a, b) => a.name.localeCompare(b.name) || Number(b.version) - Number(a.version));
  return out;
}

/** The metric keys the alias policy (`best_metric`) and the promotion policy (metric evidence)
 * of these models judge versions by (each model's policy summary: no 404 for a model without
 * a policy); a model the user may not read adds none. */
export async function policyMetrics(models: string[], signal?: AbortSignal): Promise<string[]> {
  const keys = new Set<string>();
  await Promise.all(
    models.slice(0, 10).map((name) =>
      apiGet<{ metrics: string[] }>(`/api/v1/models/${encodeURIComponent(name)}/policy-summary`, undefined, signal).then(
        (p) => p.metrics.forEach((k) => keys.add(k)),
        () => undefined,
      ),
    ),
  );
  return [...keys];
}

/** The user's saved views of an experiment (GET /api/v1/views). */
export async function listViews(experimentId: string, signal?: AbortSignal): Promise<SavedView[]> {
  const r = await apiGet<{ views: SavedView[] }>("/api/v1/views", { experiment_id: experimentId }, signal);
  return r.views.map((v) => ({ name: v.name, query: v.query }));
}

export function putView(experimentId: string, view: SavedView): Promise<unknown> {
  return apiPut("/api/v1/views", { experiment_id: experimentId, name: view.name, query: view.query });
}

export function deleteView(experimentId: string, name: string): Promise<unknown> {
  return apiDelete(`/api/v1/views?${new URLSearchParams({ experiment_id: experimentId, name })}`);
}
