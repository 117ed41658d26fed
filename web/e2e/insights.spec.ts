// Insights in headless Chromium: the experiment page's panel (runs by status, durations, best
// run per metric, a trend chart over runs) and the model page's performance trend with its
// degradation flag, against data logged through the API as training code would.
import { test, expect } from "./fixtures";
import { expectDrawn } from "./canvas";
import { Seeder } from "./registry-seed";
import { setTheme, shot } from "./shots";

let s: Seeder;
let experimentId: string;
let model: string;
const runIds: string[] = [];

test.beforeAll(async () => {
  test.setTimeout(120_000);
  s = new Seeder(process.env.CAIRN_E2E_URL!);
  const suffix = String(Date.now());
  experimentId = await s.experiment(`security-training-${suffix}`);
  model = `distilbert-${suffix}`;
  await s.model(model, "Prompt-injection detector");
  const f1s = [0.82, 0.85, 0.87, 0.89, 0.91, 0.9, 0.84];
  const start = Date.now() - f1s.length * 3_600_000;
  for (let i = 0; i < f1s.length; i++) {
    const r = await s.post<{ run: { info: { run_id: string } } }>("/runs/create", {
      experiment_id: experimentId,
      run_name: `train-${i}`,
      start_time: start + i * 3_600_000,
    });
    const id = r.run.info.run_id;
    runIds.push(id);
    const t = start + i * 3_600_000;
    const metrics = [
      { key: "eval_f1", value: f1s[i], step: 3, timestamp: t },
      { key: "eval_accuracy", value: f1s[i] + 0.03, step: 3, timestamp: t },
      { key: "eval_loss", value: 1 - f1s[i], step: 3, timestamp: t },
    ];
    await s.post("/runs/log-batch", { run_id: id, metrics });
    const failed = i === 2;
    await s.post("/runs/update", { run_id: id, status: failed ? "FAILED" : "FINISHED", end_time: t + (failed ? 30_000 : 600_000 + i * 60_000) });
    if (i >= 3) await s.version(model, id); // versions 1-4: f1 0.89, 0.91, 0.90, 0.84
  }
});

test("experiment page: insights panel with counts, durations, best runs and a trend chart", async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto(`/experiments/${experimentId}`);
  const panel = page.getByTestId("experiment-insights");
  await expect(panel).toBeVisible();
  await expect(panel.getByTestId("status-FINISHED")).toContainText("6");
  await expect(panel.getByTestId("status-FAILED")).toContainText("1");
  await expect(panel.getByTestId("insight-durations")).toContainText("6 finished");
  const best = panel.getByTestId("best-runs");
  await expect(best.locator('[data-metric="eval_f1"]')).toContainText("train-4");
  await expect(best.locator('[data-metric="eval_loss"]')).toContainText("train-4"); // lower is better
  await expectDrawn(page, "experiment-trend");
  await page.getByTestId("insight-metric").selectOption("eval_loss");
  await expectDrawn(page, "experiment-trend");
  await shot(page, "experiment-insights", panel);
  await setTheme(page, "dark");
  await expectDrawn(page, "experiment-trend");
  await shot(page, "experiment-insights-dark", panel);
  await setTheme(page, "light");

  // the best run's link opens it
  await best.getByRole("link", { name: "train-4" }).first().click();
  await expect(page).toHaveURL(new RegExp(`/runs/${runIds[4]}`));

  // hidden on request, and stays hidden on the next visit
  await page.goto(`/experiments/${experimentId}`);
  await page.getByTestId("insights-toggle").click();
  await expect(panel).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId("run-count")).toContainText("7 runs");
  await expect(panel).toHaveCount(0);
  await page.getByTestId("insights-toggle").click();
  await expect(panel).toBeVisible();
});

test("model page: the newest version's degradation is flagged and the trend marks best and newest", async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 1100 });
  await page.goto(`/models/${model}`);
  const flag = page.getByTestId("degradation-flag");
  await expect(flag).toBeVisible();
  await expect(flag.locator('[data-metric="eval_f1"]')).toContainText("v4 0.84 against v2 0.91");
  await expect(flag.locator('[data-metric="eval_loss"]')).toContainText("above its best");
  const trend = page.getByTestId("model-trend");
  await expect(trend.getByTestId("trend-metric")).toHaveValue(/eval_(f1|loss|accuracy)/);
  await expectDrawn(page, "model-trend-chart");
  await trend.getByTestId("trend-metric").selectOption("eval_f1");
  await expect(trend).toContainText("higher is better");
  await expectDrawn(page, "model-trend-chart");

  // what the page shows is what the API says
  const perf = await s.get<{ trend: { degraded: boolean; degradations: { metric: string; best_version: number; newest_version: number }[] } }>(
    `/api/v1/models/${model}/performance`,
  );
  expect(perf.trend.degraded).toBe(true);
  const f1 = perf.trend.degradations.find((d) => d.metric === "eval_f1")!;
  expect([f1.best_version, f1.newest_version]).toEqual([2, 4]);
  await shot(page, "model-degradation", page.locator('section[aria-labelledby="versions-h"]'));
  await shot(page, "model-trend", trend);

  // a new version that recovers clears the flag
  const r = await s.post<{ run: { info: { run_id: string } } }>("/runs/create", { experiment_id: experimentId, run_name: "train-7", start_time: Date.now() });
  const id = r.run.info.run_id;
  const now = Date.now();
  await s.post("/runs/log-batch", {
    run_id: id,
    metrics: [
      { key: "eval_f1", value: 0.92, step: 3, timestamp: now },
      { key: "eval_accuracy", value: 0.95, step: 3, timestamp: now },
      { key: "eval_loss", value: 0.08, step: 3, timestamp: now },
    ],
  });
  await s.version(model, id);
  await page.reload();
  await expect(page.getByTestId("degradation-ok")).toContainText("No degradation");
  await expect(page.getByTestId("degradation-flag")).toHaveCount(0);
});
