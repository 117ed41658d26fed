// Typed calls to the MLflow JSON API and Cairn's /api/v1 additions used by the pages.
import { earlyKey, takeEarly } from "./early";
import { apiGet, apiPost, MLFLOW } from "./http";
import type {
  CreateExperimentResponse,
  Experiment,
  GetExperimentResponse,
  SearchExperimentsRequest,
  SearchExperimentsResponse,
  SearchRunsRequest,
  SearchRunsResponse,
  ViewType,
} from "./types";

const MAX_EXPERIMENT_PAGES = 50;

/** Every experiment in the view (pages of 1,000, at most 50,000). */
export async function listExperiments(viewType: ViewType, signal?: AbortSignal): Promise<Experiment[]> {
  const out: Experiment[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_EXPERIMENT_PAGES; page++) {
    const body: SearchExperimentsRequest = {
      max_results: 1000,
      view_type: viewType,
      order_by: ["last_update_time DESC"],
      page_token: token,
    };
    const r = await apiPost<SearchExperimentsResponse>(`${MLFLOW}/experiments/search`, body, signal);
    out.push(...(r.experiments ?? []));
    token = r.next_page_token;
    if (!token) break;
  }
  return out;
}

export async function getExperiment(id: string, signal?: AbortSignal): Promise<Experiment> {
  const early = takeEarly<GetExperimentResponse>(earlyKey("experiment", id));
  if (early) return (await early).experiment;
  return (await apiGet<GetExperimentResponse>(`${MLFLOW}/experiments/get`, { experiment_id: id }, signal)).experiment;
}

export async function createExperiment(name: string): Promise<string> {
  return (await apiPost<CreateExperimentResponse>(`${MLFLOW}/experiments/create`, { name })).experiment_id;
}

export async function renameExperiment(id: string, newName: string): Promise<void> {
  await apiPost(`${MLFLOW}/experiments/update`, { experiment_id: id, new_name: newName });
}

export async function deleteExperiment(id: string): Promise<void> {
  await apiPost(`${MLFLOW}/experiments/delete`, { experiment_id: id });
}

export async function restoreExperiment(id: string): Promise<void> {
  await apiPost(`${MLFLOW}/experiments/restore`, { experiment_id: id });
}

export interface ExperimentSummary {
  experiment_id: string;
  run_count: number;
  running_count: number;
  last_activity: number | null;
}

/** Run counts and last activity (Cairn's /api/v1/experiments/summary), 1,000 ids a call. */
export async function experimentSummaries(ids: string[], signal?: AbortSignal): Promise<Map<string, ExperimentSummary>> {
  const out = new Map<string, ExperimentSummary>();
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const r = await apiGet<{ experiments: ExperimentSummary[] }>("/api/v1/experiments/summary", { experiment_id: chunk }, signal);
    for (const s of r.experiments) out.set(s.experiment_id, s);
  }
  return out;
}

export function searchRuns(body: SearchRunsRequest, signal?: AbortSignal): Promise<SearchRunsResponse> {
  if (!body.page_token && body.experiment_ids.length === 1) {
    const key = earlyKey("runs", body.experiment_ids[0], body.filter, (body.order_by ?? []).join(","), body.max_results, body.run_view_type);
    const early = takeEarly<SearchRunsResponse>(key);
    if (early) return early;
  }
  return apiPost<SearchRunsResponse>(`${MLFLOW}/runs/search`, body, signal);
}
