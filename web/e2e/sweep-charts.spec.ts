// What the tour found in the comparison charts: the compare page's scatter and box plot start
// on a sweep's objective against the param that moves it (not the alphabetically first keys:
// a constant seed and a metric one run logged), and the models comparison draws each metric
// on its own axis from 0 (not a sample count and F1 on one axis from 0.5).
import { test, expect } from "./fixtures";
import { expectDrawn } from "./canvas";
import { setTheme, shot } from "./shots";

const OPTIMIZERS = ["adam", "sgd", "rmsprop"];

test("a sweep's scatter and box plot start on the objective and the params that move it", async ({ page, api }) => {
  const experimentId = await api.createExperiment(`lr-sweep-${Date.now()}`);
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    const id = await api.createRun(experimentId, `trial-${i}`, { start: Date.now() - (12 - i) * 60_000 });
    const f1 = Math.round((0.6 + 0.02 * i + (i % 3 === 0 ? 0.1 : 0)) * 1000) / 1000;
    await api.logBatch(
      id,
      { a_seed: 42, batch_size: i % 2 ? 64 : 32, learning_rate: (0.001 * (i + 1)).toFixed(3), optimizer: OPTIMIZERS[i % 3]! },
      { ...(i === 0 ? { a_count: 1 } : {}), test_f1: f1, train_loss: Math.round((1 - f1) * 1000) / 1000 },
    );
    await api.finish(id);
    ids.push(id);
  }
  // what the charts are drawn from, as the API has it
  const found = await api.post<{ runs: { info: { run_id: string }; data: { metrics?: { key: string }[] } }[] }>("/runs/search", { experiment_ids: [experimentId], max_results: 50 });
  expect(found.runs).toHaveLength(12);
  expect(found.runs.filter((r) => (r.data.metrics ?? []).some((m) => m.key === "a_count"))).toHaveLength(1);

  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`/compare?runs=${ids.join(",")}`);
  await expect(page.getByRole("heading", { name: "Comparing 12 runs" })).toBeVisible();
  await expect(page.getByTestId("scatter-x")).toHaveValue("param:learning_rate");
  await expect(page.getByTestId("scatter-y")).toHaveValue("metric:test_f1");
  await expect(page.getByTestId("box-metric")).toHaveValue("test_f1");
  await expect(page.getByTestId("box-param")).toHaveValue("optimizer");
  await expectDrawn(page, "scatter-chart");
  await expectDrawn(page, "box-chart");
  await setTheme(page, "light");
  const scatter = page.locator("section.chart-card").filter({ has: page.getByTestId("scatter-chart") });
  await scatter.scrollIntoViewIfNeeded();
  await shot(page, "compare-sweep-scatter-1440", scatter);
  await page.setViewportSize({ width: 1280, height: 720 });
  const box = page.locator("section.chart-card").filter({ has: page.getByTestId("box-chart") });
  await box.scrollIntoViewIfNeeded();
  await shot(page, "compare-sweep-box-1280", box);
});

test("the models comparison puts each metric on its own axis from 0", async ({ page, api }) => {
  const suffix = Date.now();
  const experimentId = await api.createExperiment(`models-axes-${suffix}`);
  const names = [`qc-forest-${suffix}`, `qc-boost-${suffix}`];
  for (const [i, name] of names.entries()) {
    const run = await api.createRun(experimentId, `train-${name}`);
    await api.logBatch(run, {}, { test_f1: 0.91 - i * 0.03, test_samples: 200 + i * 40 });
    await api.finish(run);
    await api.post("/registered-models/create", { name });
    await api.post("/model-versions/create", { name, source: `runs:/${run}/model`, run_id: run });
    await api.post("/model-versions/transition-stage", { name, version: "1", stage: "Production", archive_existing_versions: false });
    const v = await api.get(`/model-versions/get?name=${encodeURIComponent(name)}&version=1`);
    expect(v.model_version.current_stage).toBe("Production");
  }
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`/models?q=${suffix}`);
  for (const name of names) await page.getByLabel(`Select ${name}`).check();
  await page.getByTestId("compare-models").click();
  const chart = page.getByTestId("models-compare-chart");
  await expect(chart).toHaveAttribute("aria-label", "Metrics of the compared model versions, each on its own axis from 0: test_f1, test_samples");
  await expectDrawn(page, "models-compare-chart");
  await setTheme(page, "light");
  await shot(page, "models-compare-axes-1440", page.getByTestId("models-comparison"));
});
