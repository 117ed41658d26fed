// The registry calls the model pages make: MLflow's registry API for reads and actions,
// Cairn's /api/v1 for history, performance over versions and the model comparison.
import { apiDelete, apiGet, apiPatch, apiPost, MLFLOW } from "../../api/http";
import type { ModelVersion, RegisteredModel, Tag, V1 } from "../../api/types";

export const STAGES = ["None", "Staging", "Production", "Archived"] as const;
export type StageName = (typeof STAGES)[number];

// Cairn's /api/v1 answers, as the server's OpenAPI description declares them
export type VersionOut = V1<"VersionOut">;
export type RunOut = V1<"RunOut">;
export type VersionPerformance = V1<"VersionPerformanceOut">;
export type ModelEvent = V1<"ModelEventOut">;
export type ModelPick = V1<"ModelPickOut">;

export const enc = encodeURIComponent;

/** A name as a quoted string literal in MLflow's filter language. */
export function filterLiteral(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The registry filter for the search box: text that reads as a filter (`tags.team = 'lab'`,
 * `name LIKE 'clf%'`) is passed as is, anything else matches a part of the name. */
export function modelFilter(text: string): string | undefined {
  const t = text.trim();
  if (!t) return undefined;
  if (/^(tags?\.|name\s*(=|!=|like|ilike)\s)/i.test(t) || /^`?tags?\./i.test(t)) return t;
  return `name ILIKE ${filterLiteral(`%${t}%`)}`;
}

export function searchModels(text: string, pageToken?: string) {
  const filter = modelFilter(text);
  return apiGet<{ registered_models?: RegisteredModel[]; next_page_token?: string }>(`${MLFLOW}/registered-models/search`, {
    filter,
    max_results: 100,
    order_by: ["name ASC"],
    page_token: pageToken,
  });
}

export const getModel = (name: string) =>
  apiGet<{ registered_model: RegisteredModel }>(`${MLFLOW}/registered-models/get`, { name }).then((r) => r.registered_model);

export const getVersion = (name: string, version: string) =>
  apiGet<{ model_version: ModelVersion }>(`${MLFLOW}/model-versions/get`, { name, version }).then((r) => r.model_version);

export const downloadUri = (name: string, version: string) =>
  apiGet<{ artifact_uri: string }>(`${MLFLOW}/model-versions/get-download-uri`, { name, version }).then((r) => r.artifact_uri);

export const performance = (name: string) =>
  apiGet<V1<"ModelPerformance">>(`/api/v1/models/${enc(name)}/performance`);

export const history = (name: string) =>
  apiGet<V1<"ModelHistory">>(`/api/v1/models/${enc(name)}/history`, { max_results: 200 });

export const compareModels = (names: string[], stage: string) =>
  apiGet<V1<"ModelComparison">>("/api/v1/models/compare", { name: names, stage });

export const transition = (name: string, version: string, stage: string, archiveExisting: boolean) =>
  apiPost(`${MLFLOW}/model-versions/transition-stage`, { name, version, stage, archive_existing_versions: archiveExisting });

export const setAlias = (name: string, alias: string, version: string) =>
  apiPost(`${MLFLOW}/registered-models/alias`, { name, alias, version });

export const deleteAlias = (name: string, alias: string) => apiDelete(`${MLFLOW}/registered-models/alias`, { name, alias });

export const updateModel = (name: string, description: string) => apiPatch(`${MLFLOW}/registered-models/update`, { name, description });

export const setModelTag = (name: string, key: string, value: string) => apiPost(`${MLFLOW}/registered-models/set-tag`, { name, key, value });

export const deleteModelTag = (name: string, key: string) => apiDelete(`${MLFLOW}/registered-models/delete-tag`, { name, key });

export const updateVersion = (name: string, version: string, description: string) =>
  apiPatch(`${MLFLOW}/model-versions/update`, { name, version, description });

export const setVersionTag = (name: string, version: string, key: string, value: string) =>
  apiPost(`${MLFLOW}/model-versions/set-tag`, { name, version, key, value });

export const deleteVersionTag = (name: string, version: string, key: string) =>
  apiDelete(`${MLFLOW}/model-versions/delete-tag`, { name, version, key });

export interface ArtifactFile {
  path: string;
  is_dir?: boolean;
  file_size?: number;
}

/** Where a version's files can be listed through the server: `mlflow-artifacts:/<path>`
 * URIs map to the proxied artifact routes; anything else cannot be listed from the browser. */
export function proxiedPath(artifactUri: string): string | null {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(artifactUri);
  return m ? m[1].replace(/\/+$/, "") : null;
}

export const listArtifacts = (path: string) =>
  apiGet<{ files?: ArtifactFile[] }>("/api/2.0/mlflow-artifacts/artifacts", { path }).then((r) => r.files ?? []);

export function artifactDownloadHref(dir: string, file: string): string {
  return `/api/2.0/mlflow-artifacts/artifacts/${[dir, file].filter(Boolean).join("/").split("/").map(enc).join("/")}`;
}

/** The `models:/` URIs that load a version: by number, by each alias, by its stage. */
export function modelUris(v: { name: string; version: string; current_stage: string; aliases?: string[] }): { label: string; uri: string }[] {
  const out = [{ label: "version", uri: `models:/${v.name}/${v.version}` }];
  for (const a of v.aliases ?? []) out.push({ label: `alias ${a}`, uri: `models:/${v.name}@${a}` });
  if (v.current_stage && v.current_stage !== "None") out.push({ label: `stage ${v.current_stage}`, uri: `models:/${v.name}/${v.current_stage}` });
  return out;
}

export function pythonSnippet(uri: string): string {
  return [
    "import mlflow",
    "",
    'mlflow.set_tracking_uri("' + window.location.origin + '")',
    `model = mlflow.pyfunc.load_model("${uri}")`,
    "predictions = model.predict(data)",
  ].join("\n");
}

/** One history event as a sentence. */
export function describeEvent(e: ModelEvent): string {
  const v = e.version ? `version ${e.version}` : "";
  switch (e.kind) {
    case "version_created":
      return `${v} registered`;
    case "version_deleted":
      return `${v} deleted`;
    case "stage_transition":
      return `${v} moved from ${e.from ?? "None"} to ${e.to ?? "None"}`;
    case "alias_set":
      return `alias @${e.to} set on ${v}`;
    case "alias_moved":
      return `alias @${e.to} moved from version ${e.from} to ${v}`;
    case "alias_deleted":
      return `alias @${e.from} removed from ${v}`;
    case "model_renamed":
      return `renamed from ${e.from} to ${e.to}`;
    case "model_deleted":
      return "model deleted";
    default:
      return `${e.kind} ${v}`.trim();
  }
}

export function formatTime(ms: number | null | undefined): string {
  if (!ms) return "—";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function tagsOf(list: Tag[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of list ?? []) out[t.key] = t.value;
  return out;
}

/** Key metrics of a run to show next to a version: at most `n`, sorted by name. */
export function keyMetrics(metrics: Record<string, number | string> | undefined, n = 3): [string, number | string][] {
  return Object.entries(metrics ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .slice(0, n);
}

/** Points for the metric-over-versions chart: one per version whose run has the metric. */
export function metricOverVersions(versions: VersionPerformance[], metric: string): { version: string; stage: string; value: number }[] {
  const out: { version: string; stage: string; value: number }[] = [];
  for (const v of versions) {
    const raw = v.run?.metrics[metric];
    const value = typeof raw === "number" ? raw : raw === undefined ? null : Number(raw);
    if (value === null || !Number.isFinite(value)) continue;
    out.push({ version: v.version.version, stage: v.version.current_stage, value });
  }
  return out;
}

// ------------------------------------------------------------------ registry actions
export const createModel = (name: string, description = "") =>
  apiPost<{ registered_model: RegisteredModel }>(`${MLFLOW}/registered-models/create`, { name, description }).then((r) => r.registered_model);

export const renameModel = (name: string, newName: string) =>
  apiPost<{ registered_model: RegisteredModel }>(`${MLFLOW}/registered-models/rename`, { name, new_name: newName }).then((r) => r.registered_model);

export const deleteModel = (name: string) => apiDelete(`${MLFLOW}/registered-models/delete`, { name });

export const deleteVersion = (name: string, version: string) => apiDelete(`${MLFLOW}/model-versions/delete`, { name, version });

/** Whether a registered model of exactly this name exists (a search, so a missing one is no 404). */
export async function modelExists(name: string): Promise<boolean> {
  const r = await apiGet<{ registered_models?: RegisteredModel[] }>(`${MLFLOW}/registered-models/search`, {
    filter: `name = ${filterLiteral(name)}`,
    max_results: 1,
  });
  return (r.registered_models ?? []).some((m) => m.name === name);
}

/** What a run can be registered from: one of its logged models (`models:/m-…`) or a folder of
 * its artifacts (`runs:/<run>/<path>`). */
export interface RegisterSource {
  source: string;
  modelId?: string;
}

/** `runs:/<run>/<path>` for a folder of the run's artifacts (leading and trailing slashes dropped). */
export function runsUri(runId: string, path: string): string {
  const p = path.trim().replace(/^\/+|\/+$/g, "");
  return p ? `runs:/${runId}/${p}` : `runs:/${runId}`;
}

/** Registers `source` of run `runId` as the next version of model `name`, creating the model
 * first when there is none of that name (as mlflow.register_model does). */
export async function registerVersion(name: string, runId: string, from: RegisterSource): Promise<ModelVersion> {
  if (!(await modelExists(name))) await createModel(name);
  const r = await apiPost<{ model_version: ModelVersion }>(`${MLFLOW}/model-versions/create`, {
    name,
    source: from.source,
    run_id: runId,
    model_id: from.modelId,
  });
  return r.model_version;
}

