// Creating test data through the live server's API, as a user's training code would.
const API = "/api/2.0/mlflow";

export class Api {
  constructor(readonly url: string) {}

  async post<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    const r = await fetch(`${this.url}${API}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`POST ${path} -> ${r.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async get(path: string): Promise<any> {
    const r = await fetch(`${this.url}${API}${path}`);
    const text = await r.text();
    if (!r.ok) throw new Error(`GET ${path} -> ${r.status}: ${text}`);
    return JSON.parse(text);
  }

  async createExperiment(name: string): Promise<string> {
    return (await this.post<{ experiment_id: string }>("/experiments/create", { name })).experiment_id;
  }

  async createRun(
    experimentId: string,
    name: string,
    opts: { parent?: string; start?: number; tags?: Record<string, string> } = {},
  ): Promise<string> {
    const tags = Object.entries(opts.tags ?? {}).map(([key, value]) => ({ key, value }));
    if (opts.parent) tags.push({ key: "mlflow.parentRunId", value: opts.parent });
    const body = { experiment_id: experimentId, run_name: name, start_time: opts.start ?? Date.now(), tags };
    const r = await this.post<{ run: { info: { run_id: string } } }>("/runs/create", body);
    return r.run.info.run_id;
  }

  async logBatch(
    runId: string,
    params: Record<string, string | number>,
    metrics: Record<string, number>,
    tags: Record<string, string> = {},
  ): Promise<void> {
    const now = Date.now();
    await this.post("/runs/log-batch", {
      run_id: runId,
      params: Object.entries(params).map(([key, value]) => ({ key, value: String(value) })),
      metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp: now, step: 0 })),
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    });
  }

  async finish(runId: string, status = "FINISHED", end?: number): Promise<void> {
    await this.post("/runs/update", { run_id: runId, status, end_time: end ?? Date.now() });
  }
}
