// Seed data for the compare, models and datasets e2e tests and the compare benchmark, created
// through a live server's HTTP API as training code would: runs with metric histories across
// two experiments, datasets with profiles, registered models with versions, stages, aliases.
const API = "/api/2.0/mlflow";

export class Seeder {
  constructor(readonly url: string) {}

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} -> ${r.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  post<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    return this.call<T>("POST", `${API}${path}`, body);
  }

  get<T = Record<string, unknown>>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  async experiment(name: string): Promise<string> {
    return (await this.post<{ experiment_id: string }>("/experiments/create", { name })).experiment_id;
  }

  async run(experimentId: string, name: string): Promise<{ id: string; artifactUri: string }> {
    const r = await this.post<{ run: { info: { run_id: string; artifact_uri: string } } }>("/runs/create", {
      experiment_id: experimentId,
      run_name: name,
      start_time: Date.now(),
    });
    return { id: r.run.info.run_id, artifactUri: r.run.info.artifact_uri };
  }

  async log(runId: string, params: Record<string, string | number>, metrics: Record<string, number[]>): Promise<void> {
    const now = Date.now();
    const points = Object.entries(metrics).flatMap(([key, values]) => values.map((value, step) => ({ key, value, step, timestamp: now + step })));
    const paramList = Object.entries(params).map(([key, value]) => ({ key, value: String(value) }));
    // log-batch takes at most 100 params and 1,000 metrics per call
    for (let i = 0; i < paramList.length; i += 100) await this.post("/runs/log-batch", { run_id: runId, params: paramList.slice(i, i + 100) });
    for (let i = 0; i < points.length; i += 1000) await this.post("/runs/log-batch", { run_id: runId, metrics: points.slice(i, i + 1000) });
    await this.post("/runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
  }

  async dataset(runId: string, name: string, digest: string, context: string, profile: object, schema: object): Promise<void> {
    await this.post("/runs/log-inputs", {
      run_id: runId,
      datasets: [
        {
          dataset: {
            name,
            digest,
            source_type: "local",
            source: JSON.stringify({ uri: `/data/${name}.csv` }),
            schema: JSON.stringify(schema),
            profile: JSON.stringify(profile),
          },
          tags: [{ key: "mlflow.data.context", value: context }],
        },
      ],
    });
  }

  /** Upload a small file into a run's proxied artifact store. */
  async artifact(artifactUri: string, path: string, content: string): Promise<void> {
    const root = artifactUri.replace(/^mlflow-artifacts:\/*/, "");
    await this.call("PUT", `/api/2.0/mlflow-artifacts/artifacts/${root}/${path}`, content);
  }

  async model(name: string, description = "", tags: Record<string, string> = {}): Promise<void> {
    await this.post("/registered-models/create", { name, description, tags: Object.entries(tags).map(([key, value]) => ({ key, value })) });
  }

  async version(name: string, runId: string): Promise<string> {
    const r = await this.post<{ model_version: { version: string } }>("/model-versions/create", { name, source: `runs:/${runId}/model`, run_id: runId });
    return r.model_version.version;
  }

  async stage(name: string, version: string, stage: string, archive = false): Promise<void> {
    await this.post("/model-versions/transition-stage", { name, version, stage, archive_existing_versions: archive });
  }

  async alias(name: string, alias: string, version: string): Promise<void> {
    await this.post("/registered-models/alias", { name, alias, version });
  }
}

export const IRIS_PROFILE = {
  num_rows: 150,
  num_elements: 750,
  targets: "species",
  label_distribution: { setosa: 50, versicolor: 50, virginica: 50 },
  numeric: {
    sepal_length: { count: 150, nulls: 0, min: 4.3, max: 7.9, mean: 5.843, std: 0.825, p50: 5.8 },
    petal_length: { count: 150, nulls: 0, min: 1.0, max: 6.9, mean: 3.758, std: 1.759, p50: 4.35 },
  },
  text_length: { note: { count: 150, nulls: 3, min: 0, max: 42, mean: 17.5, p50: 16 } },
};

export const IRIS_SCHEMA = {
  mlflow_colspec: [
    { name: "sepal_length", type: "double" },
    { name: "petal_length", type: "double" },
    { name: "note", type: "string" },
    { name: "species", type: "string" },
  ],
};

export interface RegistrySeed {
  model: string;
  runs: string[];
  datasetId: string;
}

/** A model `name` with four versions from four training runs (each logging a loss curve and
 * accuracy), version 2 in Production with alias `champion`, version 3 in Staging with alias
 * `candidate`; the runs used dataset `iris-<suffix>` with a profile. */
export async function seedRegistry(s: Seeder, suffix: string): Promise<RegistrySeed> {
  const eid = await s.experiment(`registry-${suffix}`);
  const model = `clf-${suffix}`;
  await s.model(model, "Classifies iris flowers", { team: "lab" });
  const runs: string[] = [];
  for (let i = 0; i < 4; i++) {
    const run = await s.run(eid, `train-${i}`);
    runs.push(run.id);
    const loss = Array.from({ length: 20 }, (_, step) => 1 / (step + 1 + i));
    await s.log(run.id, { depth: 3 + i, lr: 0.1 / (i + 1), optimizer: i % 2 ? "sgd" : "adam" }, { loss, accuracy: [0.7 + i * 0.06], f1: [0.65 + i * 0.07] });
    await s.dataset(run.id, `iris-${suffix}`, "a1b2c3d4e5f6", "training", IRIS_PROFILE, IRIS_SCHEMA);
    await s.artifact(run.artifactUri, "model/MLmodel", "flavors:\n  python_function: {}\n");
    await s.artifact(run.artifactUri, "model/requirements.txt", "scikit-learn\n");
    await s.version(model, run.id);
  }
  await s.stage(model, "2", "Production");
  await s.stage(model, "3", "Staging");
  await s.alias(model, "champion", "2");
  await s.alias(model, "candidate", "3");
  const listing = await s.get<{ datasets: { dataset_id: string }[] }>(`/api/v1/datasets?name=iris-${suffix}`);
  return { model, runs, datasetId: listing.datasets[0].dataset_id };
}

/** `count` runs with `params` params each and a few metrics (one with a short history), split
 * over two experiments; returns their ids. */
export async function seedManyRuns(s: Seeder, suffix: string, count: number, params: number): Promise<string[]> {
  const a = await s.experiment(`sweep-a-${suffix}`);
  const b = await s.experiment(`sweep-b-${suffix}`);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const run = await s.run(i % 2 ? b : a, `sweep-${i}`);
    const p: Record<string, string | number> = {};
    for (let j = 0; j < params; j++) p[`param_${String(j).padStart(2, "0")}`] = j < 5 ? (i * (j + 1)) % 7 : j < 10 ? ["adam", "sgd", "rmsprop"][(i + j) % 3] : j;
    const acc = 0.5 + ((i * 37) % 50) / 100;
    await s.log(run.id, p, {
      accuracy: [acc],
      loss: Array.from({ length: 10 }, (_, step) => (1 - acc) * (1 + 1 / (step + 1))),
      f1: [acc - 0.05],
      latency_ms: [10 + (i % 13)],
    });
    ids.push(run.id);
  }
  return ids;
}
