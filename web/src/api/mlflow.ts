// Typed calls to the MLflow JSON API and Cairn's /api/v1 additions used by the pages.
import { earlyKey, peekEarly, takeEarly } from "./early";
import { apiGet, apiPost, MLFLOW } from "./http";
import type {
  CreateExperimentResponse,
  Experiment,
  GetExperimentResponse,
  GetRunResponse,
  SearchLoggedModelsResponse,
  SearchExperimentsRequest,
  SearchExperimentsResponse,
  SearchRunsRequest,
  SearchRunsResponse,
  V1,
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

/** The experiment, when index.html's early request for it had its answer before the first render. */
export function earlyExperiment(id: string): Experiment | undefined {
  return peekEarly<GetExperimentResponse>(earlyKey("experiment", id))?.experiment;
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

/** Deletes (moves to the trash) or restores each run, eight at a time. */
export async function setRunsDeleted(runIds: string[], deleted: boolean): Promise<void> {
  const path = `${MLFLOW}/runs/${deleted ? "delete" : "restore"}`;
  for (let i = 0; i < runIds.length; i += 8) {
    await Promise.all(runIds.slice(i, i + 8).map((run_id) => apiPost(path, { run_id })));
  }
}

export type ExperimentSummary = V1<"ExperimentSummaryOut">;
type SummaryResponse = V1<"ExperimentSummaryList">;

function summaryMap(responses: SummaryResponse[]): Map<string, ExperimentSummary> {
  const out = new Map<string, ExperimentSummary>();
  for (const r of responses) for (const s of r.experiments) out.set(s.experiment_id, s);
  return out;
}

/** One experiment's summary, when index.html's early request had its answer in time. */
export function earlySummary(id: string): Map<string, ExperimentSummary> | undefined {
  const r = peekEarly<SummaryResponse>(earlyKey("summary", id));
  return r && summaryMap([r]);
}

/** Run counts and last activity (Cairn's /api/v1/experiments/summary), 1,000 ids a call. */
export async function experimentSummaries(ids: string[], signal?: AbortSignal): Promise<Map<string, ExperimentSummary>> {
  const early = ids.length === 1 ? takeEarly<SummaryResponse>(earlyKey("summary", ids[0])) : null;
  if (early) return summaryMap([await early]);
  const responses: SummaryResponse[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    responses.push(await apiGet<SummaryResponse>("/api/v1/experiments/summary", { experiment_id: chunk }, signal));
  }
  return summaryMap(responses);
}

/** The key of index.html's early request for this search, when it could have made one. */
function runsEarlyKey(body: SearchRunsRequest): string | null {
  if (body.page_token || body.experiment_ids.length !== 1) return null;
  return earlyKey("runs", body.experiment_ids[0], body.filter, (body.order_by ?? []).join(","), body.max_results, body.run_view_type);
}

/** The answer to this search, when index.html's early request had it before the first render. */
export function earlyRuns(body: SearchRunsRequest): SearchRunsResponse | undefined {
  const key = runsEarlyKey(body);
  return key === null ? undefined : peekEarly<SearchRunsResponse>(key);
}

export function searchRuns(body: SearchRunsRequest, signal?: AbortSignal): Promise<SearchRunsResponse> {
  const key = runsEarlyKey(body);
  const early = key === null ? null : takeEarly<SearchRunsResponse>(key);
  return early ?? apiPost<SearchRunsResponse>(`${MLFLOW}/runs/search`, body, signal);
}

export function getRun(runId: string, signal?: AbortSignal): Promise<GetRunResponse> {
  return apiGet<GetRunResponse>(`${MLFLOW}/runs/get`, { run_id: runId }, signal);
}

export async function setRunTag(runId: string, key: string, value: string): Promise<void> {
  await apiPost(`${MLFLOW}/runs/set-tag`, { run_id: runId, key, value });
}

export async function deleteRunTag(runId: string, key: string): Promise<void> {
  await apiPost(`${MLFLOW}/runs/delete-tag`, { run_id: runId, key });
}

/** The logged models (MLflow 3) a run produced, at most 100. */
export function searchLoggedModels(experimentId: string, runId: string, signal?: AbortSignal): Promise<SearchLoggedModelsResponse> {
  return apiPost<SearchLoggedModelsResponse>(
    `${MLFLOW}/logged-models/search`,
    { experiment_ids: [experimentId], filter: `source_run_id = '${runId}'`, max_results: 100 },
    signal,
  );
}
