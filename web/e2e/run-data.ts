// Test data for the run page and chart specs, created through the live server's REST API as
// training code would: runs, params, metric histories, tags, nested runs, a dataset input,
// a logged model and artifacts of every previewable kind.
import type { Page } from "@playwright/test";
import { parquetWriteBuffer } from "hyparquet-writer";
import type { Api } from "./api";

export interface RunInfo {
  run_id: string;
  experiment_id: string;
  artifact_uri: string;
}

export async function getRun(api: Api, runId: string): Promise<{ info: RunInfo & { run_name: string }; data: { tags?: { key: string; value: string }[] } }> {
  const r = await fetch(`${api.url}/api/2.0/mlflow/runs/get?run_id=${runId}`);
  if (!r.ok) throw new Error(`runs/get ${r.status}`);
  return ((await r.json()) as { run: never }).run;
}

export async function tagsOf(api: Api, runId: string): Promise<Record<string, string>> {
  const run = await getRun(api, runId);
  return Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
}

/** Upload one artifact file of a run (or of a logged model: pass its artifact URI). */
export async function putArtifact(api: Api, artifactUri: string, path: string, body: string | Uint8Array | ArrayBuffer): Promise<void> {
  const root = artifactUri.replace(/^mlflow-artifacts:\/*/, "");
  const url = `${api.url}/api/2.0/mlflow-artifacts/artifacts/${root}/${path.split("/").map(encodeURIComponent).join("/")}`;
  const r = await fetch(url, { method: "PUT", body: typeof body === "string" ? body : new Uint8Array(body as ArrayBuffer) });
  if (!r.ok) throw new Error(`PUT ${path} -> ${r.status}: ${await r.text()}`);
}

/** A metric history through log-batch (1,000 points per request, as the clients batch). */
export async function logHistory(api: Api, runId: string, key: string, values: number[], t0 = 1_700_000_000_000, dt = 1000): Promise<void> {
  for (let i = 0; i < values.length; i += 1000) {
    const metrics = values.slice(i, i + 1000).map((value, j) => ({ key, value, timestamp: t0 + (i + j) * dt, step: i + j }));
    await api.post("/runs/log-batch", { run_id: runId, metrics });
  }
}

/** A small PNG, drawn by the browser itself. */
export async function makePng(page: Page): Promise<Buffer> {
  await page.setContent(
    `<div id="img" style="width:160px;height:90px;background:linear-gradient(135deg,#2f6fdb,#e0672b);font:bold 20px sans-serif;color:#fff;display:flex;align-items:center;justify-content:center">ROC</div>`,
  );
  return page.locator("#img").screenshot();
}

export function parquetBytes(): ArrayBuffer {
  return parquetWriteBuffer({
    columnData: [
      { name: "sample_id", data: ["S-001", "S-002", "S-003", "S-004"], type: "STRING" },
      { name: "od600", data: [0.41, 0.38, 1.92, 0.44], type: "DOUBLE" },
      { name: "contaminated", data: [false, false, true, false], type: "BOOLEAN" },
    ],
  });
}

export const MLMODEL = `artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.9
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.2
mlflow_version: 3.17.2
model_uuid: 5b0e7c1f2d3a4b5c
run_id: RUN_ID
signature:
  inputs: '[{"type": "double", "name": "od600", "required": true}, {"type": "string", "name": "site", "required": true}]'
  outputs: '[{"type": "long", "name": "contaminated", "required": true}]'
  params: null
utc_time_created: '2026-11-22 10:00:00.000000'
`;

export const PROFILE = {
  num_rows: 1200,
  num_elements: 3600,
  targets: "label",
  label_distribution: { clean: 1050, contaminated: 150 },
  numeric: { od600: { count: 1200, nulls: 0, min: 0.01, max: 2.4, mean: 0.61, std: 0.33, p50: 0.52 } },
  text_length: { note: { count: 1200, nulls: 12, min: 0, max: 140, mean: 31.5, p50: 28 } },
};

export interface RunPageData {
  experimentId: string;
  runId: string;
  childIds: string[];
  modelId: string;
}

export async function createRunPageData(api: Api, page: Page): Promise<RunPageData> {
  const experimentId = await api.createExperiment(`run-page-${Date.now()}`);
  const start = Date.now() - 3_600_000;
  const runId = await api.createRun(experimentId, "rf-baseline", {
    start,
    tags: { team: "lims", "mlflow.source.name": "train.py", "mlflow.user": "alice", "mlflow.note.content": "Baseline random forest." },
  });
  await api.logBatch(runId, { n_estimators: 200, max_depth: 8, criterion: "gini" }, {}, { stage: "dev" });
  await logHistory(api, runId, "loss", Array.from({ length: 300 }, (_, i) => 1 / (1 + i / 20) + (i === 150 ? 2 : 0)));
  await logHistory(api, runId, "accuracy", Array.from({ length: 300 }, (_, i) => 0.5 + 0.45 * (1 - Math.exp(-i / 60))));
  const childIds = [];
  for (const name of ["fold-1", "fold-2"]) {
    const child = await api.createRun(experimentId, name, { parent: runId, start: start + 1000 });
    await api.logBatch(child, { fold: name.slice(-1) }, { auc: 0.9 });
    await api.finish(child);
    childIds.push(child);
  }
  await api.post("/runs/log-inputs", {
    run_id: runId,
    datasets: [
      {
        tags: [{ key: "mlflow.data.context", value: "training" }],
        dataset: {
          name: "lims-samples",
          digest: "a1b2c3d4",
          source_type: "local",
          source: JSON.stringify({ uri: "/data/lims/samples.csv" }),
          schema: JSON.stringify({ mlflow_colspec: [{ name: "od600", type: "double" }] }),
          profile: JSON.stringify(PROFILE),
        },
      },
    ],
  });
  const info = (await getRun(api, runId)).info;
  const uri = info.artifact_uri;
  await putArtifact(api, uri, "plots/roc.png", await makePng(page));
  await putArtifact(api, uri, "notes.txt", "Trained on the November LIMS export.\nNo leakage found.\n");
  await putArtifact(api, uri, "metrics.json", JSON.stringify({ accuracy: 0.93, f1: 0.88, classes: ["clean", "contaminated"] }));
  await putArtifact(api, uri, "config.yaml", "model:\n  kind: random_forest\n  n_estimators: 200\nseed: 42\n");
  await putArtifact(api, uri, "train.py", "def train(data):\n    return sum(data) / len(data)  # mean\n");
  await putArtifact(api, uri, "data/sample.csv", "sample_id,od600,label\nS-001,0.41,clean\nS-002,0.38,clean\nS-003,1.92,contaminated\n");
  const big = ["row,value,comment"];
  for (let i = 0, size = 0; size < 700_000; i++) {
    const line = `${i},${((i * 0.37) % 1).toFixed(4)},"line ${i} of a long export"`;
    big.push(line);
    size += line.length + 1;
  }
  await putArtifact(api, uri, "data/large.csv", big.join("\n"));
  await putArtifact(api, uri, "data/samples.parquet", parquetBytes());
  await putArtifact(
    api,
    uri,
    "report.html",
    `<html><body><h1>Evaluation report</h1><p id="p">Static part.</p><script>document.getElementById("p").textContent = "SCRIPT RAN";</script></body></html>`,
  );
  await putArtifact(api, uri, "model/MLmodel", MLMODEL.replace("RUN_ID", runId));
  await putArtifact(api, uri, "model/model.pkl", new Uint8Array([128, 4, 149, 0, 0]));
  // an MLflow 3 logged model produced by this run
  const created = await api.post<{ model: { info: { model_id: string; artifact_uri: string } } }>("/logged-models", {
    experiment_id: experimentId,
    name: "lims-classifier",
    source_run_id: runId,
  });
  const modelId = created.model.info.model_id;
  await putArtifact(api, created.model.info.artifact_uri, "MLmodel", MLMODEL.replace("RUN_ID", runId));
  const patch = await fetch(`${api.url}/api/2.0/mlflow/logged-models/${modelId}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model_id: modelId, status: "LOGGED_MODEL_READY" }),
  });
  if (!patch.ok) throw new Error(`finalize model -> ${patch.status}`);
  await api.post("/runs/outputs", { run_id: runId, models: [{ model_id: modelId, step: 0 }] });
  await api.finish(runId, "FINISHED", start + 754_000);
  return { experimentId, runId, childIds, modelId };
}
