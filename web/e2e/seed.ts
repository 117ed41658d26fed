// A small realistic project, created through the API: a model sweep with nested runs.
import type { Api } from "./api";

export interface Seeded {
  experimentId: string;
  name: string;
  runIds: Map<string, string>; // run name -> id
  sweepId: string;
}

const MODELS = ["rf", "gb", "lr"];

export async function seedProject(api: Api, name: string): Promise<Seeded> {
  const experimentId = await api.createExperiment(name);
  const runIds = new Map<string, string>();
  const t0 = Date.parse("2026-11-20T09:00:00Z");
  for (let i = 0; i < 24; i++) {
    const model = MODELS[i % 3];
    const runName = `${model}-${String(i).padStart(2, "0")}`;
    const start = t0 + i * 17 * 60_000;
    const id = await api.createRun(experimentId, runName, { start, tags: { "mlflow.source.name": "train.py", "mlflow.user": "ana" } });
    runIds.set(runName, id);
    const accuracy = Math.round((0.8 + ((i * 37) % 19) / 100) * 10_000) / 10_000;
    await api.logBatch(
      id,
      { model, max_depth: 2 + (i % 5) * 2, n_estimators: 100 + (i % 4) * 50, "learning rate": (0.01 * (1 + (i % 3))).toFixed(2) },
      { accuracy, loss: Math.round((1 - accuracy) * 1.7 * 10_000) / 10_000, f1: Math.round((accuracy - 0.03) * 10_000) / 10_000 },
      { team: i % 2 ? "qa" : "ml" },
    );
    const status = i === 23 ? "RUNNING" : i % 7 === 3 ? "FAILED" : "FINISHED";
    if (status !== "RUNNING") await api.finish(id, status, start + (40 + i * 13) * 1000);
  }
  const sweepId = await api.createRun(experimentId, "sweep", { start: t0 + 30 * 17 * 60_000 });
  runIds.set("sweep", sweepId);
  await api.logBatch(sweepId, { model: "gb", search: "grid" }, { accuracy: 0.955 }, { team: "ml" });
  for (let j = 0; j < 4; j++) {
    const child = await api.createRun(experimentId, `sweep-trial-${j}`, { parent: sweepId, start: t0 + (30 * 17 + j) * 60_000 });
    runIds.set(`sweep-trial-${j}`, child);
    await api.logBatch(child, { model: "gb", max_depth: 3 + j }, { accuracy: 0.93 + j / 200, loss: 0.1 - j / 100 }, { team: "ml" });
    await api.finish(child, "FINISHED", t0 + (30 * 17 + j + 2) * 60_000);
  }
  await api.finish(sweepId, "FINISHED", t0 + (30 * 17 + 8) * 60_000);
  return { experimentId, name, runIds, sweepId };
}
