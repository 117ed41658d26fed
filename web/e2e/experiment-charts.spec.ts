// The experiment chart view at 1,000 runs × 10 metrics: one click from the runs table, a chart
// per metric (system metrics in their own section), one batched downsample request per chart,
// run colours, hide and pin, the chart search, layout remembered, zoom that re-fetches.
import type { Page, Request } from "@playwright/test";
import { test, expect } from "./fixtures";
import type { Api } from "./api";
import { setTheme, shot } from "./shots";

const RUNS = 1000;
const STEPS = 12;
const MODEL_KEYS = ["loss", "val_loss", "accuracy", "val_accuracy", "f1", "precision", "recall", "lr"];
const SYSTEM_KEYS = ["system/cpu_utilization_percentage", "system/memory_usage_megabytes"];

/** `count` calls of `fn` with at most `width` at once (bounded: every index runs once). */
async function pool(count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

/** 1,000 finished runs × 10 metrics of 12 steps: three API calls a run, six runs at a time. */
async function seedThousand(api: Api): Promise<{ experimentId: string; ids: string[] }> {
  const experimentId = await api.createExperiment(`chart-view-${Date.now()}`);
  const ids: string[] = new Array(RUNS);
  const t0 = Date.parse("2026-11-01T00:00:00Z");
  await pool(RUNS, 6, async (i) => {
    const start = t0 + i * 60_000;
    const id = await api.createRun(experimentId, `trial-${String(i).padStart(4, "0")}`, { start });
    ids[i] = id;
    const metrics = [...MODEL_KEYS, ...SYSTEM_KEYS].flatMap((key, k) =>
      Array.from({ length: STEPS }, (_, step) => ({
        key,
        value: (k + 1) * (1 + ((i * 31 + step * 7) % 17) / 17) / (1 + step / (3 + (i % 5))),
        timestamp: start + step * 1000,
        step,
      })),
    );
    await api.post("/runs/log-batch", { run_id: id, params: [{ key: "optimizer", value: i % 2 ? "adam" : "sgd" }], metrics });
    await api.finish(id, "FINISHED", start + STEPS * 1000);
  });
  return { experimentId, ids };
}

async function charts(page: Page) {
  return page.evaluate(() => (window.__cairnCharts ?? []).map((c) => ({ key: c.keys[0], series: c.series, buckets: c.plot.data[0].length })));
}

test("chart view: 1,000 runs × 10 metrics, batched, coloured, hide/pin, search, layout, zoom", async ({ page, api }) => {
  test.setTimeout(240_000);
  const { experimentId, ids } = await seedThousand(api);
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`/experiments/${experimentId}`);
  await expect(page.getByTestId("run-count")).toContainText("runs");

  const downsample: Request[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/v1/metrics/downsample")) downsample.push(r);
  });
  await page.getByTestId("charts-toggle").click();
  await expect(page).toHaveURL(/mode=charts/);
  const view = page.getByTestId("chart-view");
  await expect(view).toBeVisible();
  // 100 runs by default: the charts wait for the second page of runs instead of drawing the
  // table's first 50 and asking for every series again
  await expect(page.getByTestId("charted-count")).toHaveText(/^100 of 1,000 drawn$/, { timeout: 60_000 });
  await expect.poll(async () => (await charts(page)).filter((c) => c.series === 100).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
  expect(downsample.length).toBeGreaterThan(0);
  for (const r of downsample) expect(new URL(r.url()).searchParams.getAll("run_id")).toHaveLength(100);
  downsample.length = 0;
  await page.getByRole("combobox", { name: "Runs drawn" }).selectOption("1000");
  await expect(page.getByTestId("charted-count")).toHaveText(/^1,000 of 1,000 drawn$/, { timeout: 60_000 });

  // model metrics and system metrics in their own sections
  await expect(page.getByTestId("model-charts").locator(".chart-slot")).toHaveCount(MODEL_KEYS.length);
  await expect(page.getByTestId("system-charts").locator(".chart-slot")).toHaveCount(SYSTEM_KEYS.length);

  // the charts on screen draw every one of the 1,000 runs, from one batched request each
  await expect.poll(async () => (await charts(page)).filter((c) => c.series === RUNS).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
  const drawn = await charts(page);
  const batch = downsample.filter((r) => r.url().endsWith("/downsample/batch"));
  // a GET carries at most 100 series: at 1,000 runs every request is a batch
  for (const r of downsample.filter((x) => x.method() === "GET")) expect(new URL(r.url()).searchParams.getAll("run_id").length).toBeLessThanOrEqual(100);
  expect(downsample.length, "a handful of requests, not one per 100 series").toBeLessThan(40);
  for (const c of drawn.filter((d) => d.series === RUNS)) {
    const mine = batch.filter((r) => (r.postDataJSON() as { keys: string[]; run_ids: string[] }).keys[0] === c.key);
    expect(mine.some((r) => (r.postDataJSON() as { run_ids: string[] }).run_ids.length === RUNS), `one request for all runs of ${c.key}`).toBe(true);
  }
  // scrolling to the system section draws its charts too
  await page.getByTestId("system-charts").scrollIntoViewIfNeeded();
  await expect.poll(async () => (await charts(page)).filter((c) => c.key.startsWith("system/") && c.series === RUNS).length, { timeout: 60_000 }).toBe(2);

  // run colours: the run list's swatches are the table's colours
  const firstRow = view.locator(".chart-run-list li").first();
  const swatch = await firstRow.locator(".run-swatch").evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(swatch).toMatch(/^rgb/);

  // hide a run: the charts draw one series fewer
  const firstId = await firstRow.getAttribute("data-run-id");
  await firstRow.getByRole("button", { name: /^Hide / }).click();
  await expect(page.getByTestId("charted-count")).toHaveText(/^999 of 1,000 drawn$/);
  await expect.poll(async () => (await charts(page)).some((c) => c.series === RUNS - 1), { timeout: 60_000 }).toBe(true);
  await firstRow.getByRole("button", { name: /^Show / }).click();

  // pin: with 10 runs drawn, a pinned run from the end of the list is drawn first
  await page.getByRole("combobox", { name: "Runs drawn" }).selectOption("10");
  const last = ids[0]; // the oldest run comes last (newest first)
  const lastRow = view.locator(`.chart-run-list li[data-run-id="${last}"]`);
  await lastRow.getByRole("button", { name: /^Pin / }).click();
  await expect(view.locator(".chart-run-list li").first()).toHaveAttribute("data-run-id", last);
  await expect(page.getByTestId("charted-count")).toHaveText(/^10 of 1,000 drawn$/);
  expect(firstId).not.toBe(last);

  // the chart search box
  await page.getByRole("searchbox", { name: "Search charts" }).fill("val");
  await expect(page.getByTestId("model-charts").locator(".chart-slot")).toHaveCount(2);
  await expect(page.getByTestId("system-charts")).toHaveCount(0);
  await page.getByRole("searchbox", { name: "Search charts" }).fill("/^system\\//");
  await expect(page.getByTestId("system-charts").locator(".chart-slot")).toHaveCount(2);
  await expect(page.getByTestId("model-charts")).toHaveCount(0);
  await page.getByRole("searchbox", { name: "Search charts" }).fill("");

  // chosen metrics and columns are remembered for the experiment
  await page.getByRole("combobox", { name: "Columns" }).selectOption("2");
  await page.getByTestId("chart-metrics-toggle").click();
  await page.getByTestId("chart-metric-picker").getByLabel("recall").uncheck();
  await expect(page.getByTestId("model-charts").locator(".chart-slot")).toHaveCount(MODEL_KEYS.length - 1);
  await page.reload();
  await expect(page.getByTestId("chart-view")).toBeVisible();
  await expect(page.getByRole("combobox", { name: "Columns" })).toHaveValue("2");
  await expect(page.getByTestId("model-charts").locator(".chart-slot")).toHaveCount(MODEL_KEYS.length - 1);
  await expect(page.getByRole("figure", { name: "recall" })).toHaveCount(0);
  // the pin is shared with the table: the pinned run is the table's first row
  await expect(view.locator(".chart-run-list li").first()).toHaveAttribute("data-run-id", last);

  // zoom: a drag across a chart asks again for that window
  const chart = page.getByRole("figure", { name: "loss", exact: true });
  await expect.poll(async () => (await charts(page)).some((c) => c.key === "loss")).toBe(true);
  await chart.scrollIntoViewIfNeeded();
  const box = (await chart.locator(".u-over").boundingBox())!;
  const zoomed = page.waitForRequest((r) => r.url().includes("/metrics/downsample") && ((r.postDataJSON()?.x_min ?? null) !== null || /x_min=/.test(r.url())), { timeout: 20_000 });
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.45, box.y + box.height / 2, { steps: 4 });
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 4 });
  await page.mouse.up();
  await zoomed;
  await expect(page.getByRole("button", { name: "Reset zoom" }).first()).toBeVisible();
  await page.getByRole("button", { name: "Reset zoom" }).first().click();

  // back to the table in one click; the pinned run is its first row
  await page.getByTestId("table-toggle").click();
  await expect(page.locator("tr.run-row").first()).toHaveAttribute("data-run-id", last);

  await page.getByTestId("charts-toggle").click();
  await page.getByRole("combobox", { name: "Runs drawn" }).selectOption("25");
  await page.getByRole("combobox", { name: "Columns" }).selectOption("3");
  await expect.poll(async () => (await charts(page)).filter((c) => c.series === 25).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
  await setTheme(page, "light");
  await shot(page, "experiment-charts-1440");
  await page.setViewportSize({ width: 1280, height: 720 });
  await expect.poll(async () => (await charts(page)).filter((c) => c.series === 25).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
  await shot(page, "experiment-charts-1280");
});
