// The evaluation hub's API (/api/v1/evaluations, docs/evaluations.md) and the red-team trend
// (/api/v1/red-team/models/{name}): jobs (list, one, logs, cancel, submit in either request
// shape), providers, collections, the leaderboard.
import { apiDelete, apiGet, apiPost } from "../../api/http";
import type { V1 } from "../../api/types";

export type EvalJobState = "pending" | "running" | "completed" | "failed" | "cancelled" | "partially_failed";
export type BenchmarkState = "pending" | "running" | "completed" | "failed" | "cancelled";

export interface EvalBenchmark {
  index: number;
  benchmark_id: string;
  provider_id: string;
  config: Record<string, unknown>;
  weight: number;
  primary_metric: string | null;
  lower_is_better: boolean;
  threshold: number | null;
  state: BenchmarkState;
  phase: string | null;
  progress: number | null;
  run_id: string | null;
  results: Record<string, number | null> | null;
  primary_score: number | null;
  passed: boolean | null;
  error: string | null;
  started_at: number | null;
  finished_at: number | null;
}

export interface EvalModel {
  name: string;
  server: string | null;
  url: string | null;
  registered_name: string | null;
  registered_version: number | null;
}

export interface EvalJob {
  id: string;
  state: EvalJobState;
  experiment_id: string;
  experiment_name?: string;
  experiment_url?: string;
  parent_run_id: string | null;
  model: EvalModel;
  benchmarks: EvalBenchmark[];
  overall_score: number | null;
  passed: boolean | null;
  tags: Record<string, string>;
  collection_id: string | null;
  created_by: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
  runner_token?: string;
}

export interface EvalJobPage {
  jobs: EvalJob[];
  next_page_token?: string | null;
}

export interface LogLine {
  seq: number;
  time: number;
  index: number | null;
  line: string;
}

export interface LogPage {
  lines: LogLine[];
  next: number | null;
}

export interface ParamSpec {
  type: string;
  description?: string;
  default?: unknown;
  required?: boolean;
}

export interface ProviderBenchmark {
  id: string;
  name: string;
  description: string;
  category: string;
  metrics: string[];
  primary_metric: string;
  lower_is_better: boolean;
  parameters: Record<string, ParamSpec>;
  open_ended: boolean;
}

export interface Provider {
  id: string;
  name: string;
  description: string;
  runs_in_cairn: boolean;
  benchmarks: ProviderBenchmark[];
}

export interface EvalCollection {
  id: string;
  name: string;
  description: string;
  benchmarks: Record<string, unknown>[];
  shipped: boolean;
}

export interface BoardBenchmark {
  benchmark_id: string;
  provider_id: string;
  primary_metric: string | null;
  lower_is_better: boolean;
}

export interface BoardScore {
  score: number;
  job_id: string;
  run_id: string | null;
  finished_at: number | null;
}

export interface BoardRow {
  model_name: string;
  registered_name: string | null;
  registered_version: number | null;
  scores: Record<string, BoardScore>;
  delta_vs_champion: Record<string, number | null>;
}

export interface Leaderboard {
  benchmarks: BoardBenchmark[];
  rows: BoardRow[];
  champion: Record<string, number>;
}

export const EVALS = "/api/v1/evaluations";

export interface JobFilter {
  state?: EvalJobState;
  model?: string;
  tag?: string;
  experiment_id?: string;
}

export function searchEvalJobs(filter: JobFilter, pageToken?: string | null, maxResults = 50, signal?: AbortSignal): Promise<EvalJobPage> {
  return apiGet<EvalJobPage>(
    `${EVALS}/jobs`,
    { state: filter.state, model: filter.model, tag: filter.tag, experiment_id: filter.experiment_id, max_results: maxResults, page_token: pageToken ?? undefined },
    signal,
  );
}

export const getEvalJob = (id: string, signal?: AbortSignal) => apiGet<EvalJob>(`${EVALS}/jobs/${encodeURIComponent(id)}`, undefined, signal);
export const cancelEvalJob = (id: string) => apiDelete<EvalJob>(`${EVALS}/jobs/${encodeURIComponent(id)}`);
export const getEvalLogs = (id: string, after: number | null, signal?: AbortSignal) =>
  apiGet<LogPage>(`${EVALS}/jobs/${encodeURIComponent(id)}/logs`, { after: after ?? undefined }, signal);
export const listProviders = (signal?: AbortSignal) => apiGet<{ providers: Provider[] }>(`${EVALS}/providers`, undefined, signal);
export const listCollections = (signal?: AbortSignal) => apiGet<{ collections: EvalCollection[] }>(`${EVALS}/collections`, undefined, signal);

/** Submit a request: the seed's shape goes to POST /evaluations, eval-hub's to POST /evaluations/jobs. */
export function submitEvaluation(shape: "seed" | "evalhub", body: unknown): Promise<EvalJob> {
  return apiPost<EvalJob>(shape === "seed" ? EVALS : `${EVALS}/jobs`, body);
}

export function getLeaderboard(q: { benchmarks?: string[]; models?: string[]; provider?: string; max_models?: number }, signal?: AbortSignal): Promise<Leaderboard> {
  return apiGet<Leaderboard>(
    `${EVALS}/leaderboard`,
    {
      benchmarks: q.benchmarks?.length ? q.benchmarks.join(",") : undefined,
      models: q.models?.length ? q.models.join(",") : undefined,
      provider: q.provider || undefined,
      max_models: q.max_models,
    },
    signal,
  );
}

/** The red-team trend of a model, as the server answers it (read loosely: see logic.ts, securityView). */
export const getRedTeam = (name: string, signal?: AbortSignal) => apiGet<unknown>(`/api/v1/red-team/models/${encodeURIComponent(name)}`, undefined, signal);

// tsc checks that the server's generated types (its OpenAPI description) still fit these
type Fits<Server, Ours> = Server extends Ours ? true : never;
export const contractFits: [Fits<V1<"LeaderboardOut">, Leaderboard>, Fits<V1<"ProviderList">, { providers: Provider[] }>, Fits<V1<"CollectionList">, { collections: EvalCollection[] }>, Fits<V1<"LogsOut">, LogPage>] = [
  true,
  true,
  true,
  true,
];
