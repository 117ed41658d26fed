// MLflow's wire types as the server sends them (ids are strings, int64 are numbers, empty
// lists are left out, NaN/Infinity arrive as the strings "NaN"/"Infinity"/"-Infinity"), and
// V1<"Name">, a schema of Cairn's own /api/v1 (generated into web/generated/v1.d.ts from the
// server's OpenAPI description).
import type { components } from "../../generated/v1";

/** A response schema of Cairn's /api/v1, as the server's OpenAPI description declares it. */
export type V1<Name extends keyof components["schemas"]> = components["schemas"][Name];

export type LifecycleStage = "active" | "deleted";
export type ViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";
export type RunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";

export interface Tag {
  key: string;
  value: string;
}
export type ExperimentTag = Tag;
export type RunTag = Tag;

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: LifecycleStage;
  creation_time?: number;
  last_update_time?: number;
  tags?: ExperimentTag[];
}

export interface Param {
  key: string;
  value: string;
}

export type MetricValue = number | "NaN" | "Infinity" | "-Infinity";

export interface Metric {
  key: string;
  value: MetricValue;
  timestamp: number;
  step: number;
  run_id?: string;
}

export interface RunInfo {
  run_id: string;
  run_uuid?: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage: LifecycleStage;
}

export interface RunData {
  metrics?: Metric[];
  params?: Param[];
  tags?: RunTag[];
}

export interface Dataset {
  name: string;
  digest: string;
  source_type: string;
  source: string; // JSON string
  schema?: string; // JSON string
  profile?: string; // JSON string
}

export interface DatasetInput {
  tags?: Tag[]; // mlflow.data.context
  dataset: Dataset;
}

export interface ModelInput {
  model_id: string;
}

export interface ModelOutput {
  model_id: string;
  step: number;
}

export interface RunInputs {
  dataset_inputs?: DatasetInput[];
  model_inputs?: ModelInput[];
}

export interface RunOutputs {
  model_outputs?: ModelOutput[];
}

export interface Run {
  info: RunInfo;
  data: RunData;
  inputs?: RunInputs;
  outputs?: RunOutputs;
}

export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

// ---- requests and responses ----

export interface SearchExperimentsRequest {
  filter?: string;
  max_results?: number;
  order_by?: string[];
  page_token?: string;
  view_type?: ViewType;
}
export interface SearchExperimentsResponse {
  experiments?: Experiment[];
  next_page_token?: string;
}
export interface GetExperimentResponse {
  experiment: Experiment;
}
export interface CreateExperimentResponse {
  experiment_id: string;
}

export interface SearchRunsRequest {
  experiment_ids: string[];
  filter?: string;
  run_view_type?: ViewType;
  max_results?: number;
  order_by?: string[];
  page_token?: string;
}
export interface SearchRunsResponse {
  runs?: Run[];
  next_page_token?: string;
}
export interface GetRunResponse {
  run: Run;
}
export interface GetMetricHistoryResponse {
  metrics?: Metric[];
  next_page_token?: string;
}
export interface ListArtifactsResponse {
  root_uri?: string;
  files?: FileInfo[];
  next_page_token?: string;
}

export interface LoggedModel {
  info: { model_id: string; name: string; status?: string; model_type?: string; artifact_uri?: string; creation_timestamp_ms?: number; source_run_id?: string };
}
export interface SearchLoggedModelsResponse {
  models?: LoggedModel[];
  next_page_token?: string;
}

// ---- model registry ----

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  current_stage: string;
  description?: string;
  source: string;
  run_id?: string;
  status: string;
  tags?: Tag[];
  aliases?: string[];
  model_id?: string;
}

export interface RegisteredModelAlias {
  alias: string;
  version: string;
}

export interface RegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: Tag[];
  aliases?: RegisteredModelAlias[];
}

/** A metric value as a JS number (the wire's "NaN"/"Infinity" strings included). */
export function metricNumber(value: MetricValue): number {
  if (typeof value === "number") return value;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return NaN;
}
