// The runs table for daily work: grouping with aggregated metrics, saved views, inline rename,
// the "Registered as" and dataset columns, pinned and coloured runs, auto-refresh while a run
// is RUNNING (and its pause), and a layout that shows the name and six metrics at 1280×720.
import type { Page } from "@playwright/test";
import { test, expect } from "./fixtures";
import { getRun } from "./run-data";
import { seedProject, type Seeded } from "./seed";
import { setTheme, shot } from "./shots";

const rows = (page: Page) => page.locator("tbody tr.run-row");
const row = (page: Page, id: string) => page.locator(`tr.run-row[data-run-id="${id}"]`);

async function open(page: Page, seeded: Seeded) {
  await page.goto(`/experiments/${seeded.experimentId}`);
  await expect(rows(page).first()).toBeVisible();
  // the insights panel comes after the first rows and moves them down: wait for it, so a
  // hover stays on its row
  await expect(page.getByTestId("experiment-insights")).toBeVisible();
}

test("group by a param: a row per value with mean/min/max of the metric columns, filter to a group", async ({ page, api }) => {
  const seeded = await seedProject(api, `group-${Date.now()}`);
  await open(page, seeded);
  await page.getByRole("combobox", { name: "Group by" }).selectOption("params.model");
  await expect(page).toHaveURL(/group=params.model/);
  const grouped = page.getByTestId("grouped-runs");
  await expect(grouped.locator("tr.group-row")).toHaveCount(3);
  // gb: the 8 gb runs of the sweep, plus the sweep and its 4 trials
  const gb = grouped.locator('tr.group-row[data-group="gb"]');
  await expect(gb.locator("td").nth(1)).toHaveText("13");
  // the accuracy column is the mean over the group's runs: check against the API's values
  const search = await api.post<{ runs: { data: { params: { key: string; value: string }[]; metrics: { key: string; value: number }[] } }[] }>("/runs/search", {
    experiment_ids: [seeded.experimentId],
    max_results: 100,
  });
  const accs = search.runs
    .filter((r) => r.data.params.some((p) => p.key === "model" && p.value === "rf"))
    .map((r) => r.data.metrics.find((m) => m.key === "accuracy")!.value);
  const header = await grouped.locator("thead th").allInnerTexts();
  const accCol = header.findIndex((h) => h.includes("accuracy"));
  expect(accCol).toBeGreaterThan(1);
  const rf = grouped.locator('tr.group-row[data-group="rf"]');
  const mean = accs.reduce((s, v) => s + v, 0) / accs.length;
  expect(Number(await rf.locator("td").nth(accCol).innerText())).toBeCloseTo(mean, 3);
  await page.getByRole("combobox", { name: "Aggregate metrics by" }).selectOption("max");
  await expect(page).toHaveURL(/agg=max/);
  expect(Number(await rf.locator("td").nth(accCol).innerText())).toBeCloseTo(Math.max(...accs), 3);
  // a group opens to its runs, and filters to them in one click
  await rf.getByRole("button", { name: "Expand rf" }).click();
  await expect(grouped.locator("tr.group-run")).toHaveCount(accs.length);
  await shot(page, "runs-grouped");
  await rf.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByRole("combobox", { name: "Filter runs" })).toHaveValue("params.model = 'rf'");
  await expect(page.getByRole("grid", { name: "Runs" })).toHaveAttribute("aria-rowcount", String(accs.length + 1));
});

test("saved views: name the filter, columns, sort and grouping; open it again from the menu and the URL", async ({ page, api }) => {
  const seeded = await seedProject(api, `views-${Date.now()}`);
  await open(page, seeded);
  const filter = page.getByRole("combobox", { name: "Filter runs" });
  await filter.fill("params.model = 'gb'");
  await filter.press("Enter");
  await page.getByRole("combobox", { name: "Group by" }).selectOption("tags.team");
  await page.getByRole("button", { name: "Save view" }).click();
  await page.getByRole("textbox", { name: "View name" }).fill("gb by team");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page).toHaveURL(/view=gb\+by\+team|view=gb%20by%20team/);
  const saved = page.url();
  // kept on the server, for this user
  const stored = await (await fetch(`${api.url}/api/v1/views?experiment_id=${seeded.experimentId}`)).json();
  expect(stored.views.map((v: { name: string }) => v.name)).toEqual(["gb by team"]);
  expect(new URLSearchParams(stored.views[0].query).get("group")).toBe("tags.team");

  // change everything, then open the saved view from the menu
  await page.getByRole("combobox", { name: "Group by" }).selectOption("");
  await filter.fill("");
  await filter.press("Enter");
  await expect(page).not.toHaveURL(/group=/);
  await page.getByRole("combobox", { name: "Saved view" }).selectOption("gb by team");
  await expect(filter).toHaveValue("params.model = 'gb'");
  await expect(page.getByRole("combobox", { name: "Group by" })).toHaveValue("tags.team");
  await expect(page.getByTestId("grouped-runs").locator("tr.group-row")).toHaveCount(2);

  // the URL is the view: a fresh page opened from it shows the same
  const other = await page.context().newPage();
  await other.goto(saved);
  await expect(other.getByRole("combobox", { name: "Group by" })).toHaveValue("tags.team");
  await expect(other.getByRole("combobox", { name: "Saved view" })).toHaveValue("gb by team");
  await other.close();

  // a blank name is refused, naming the problem
  await page.getByRole("button", { name: "Save view" }).click();
  await page.getByRole("textbox", { name: "View name" }).fill("   ");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("Name the view");
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Delete view" }).click();
  await expect(page.getByRole("combobox", { name: "Saved view" })).toHaveValue("");
  const after = await (await fetch(`${api.url}/api/v1/views?experiment_id=${seeded.experimentId}`)).json();
  expect(after.views).toEqual([]);
});

test("rename a run inline, pin it to the top; the API has the new name", async ({ page, api }) => {
  const seeded = await seedProject(api, `rename-${Date.now()}`);
  await open(page, seeded);
  const id = seeded.runIds.get("gb-22")!;
  const r = row(page, id);
  await r.hover();
  await r.getByRole("button", { name: "Rename gb-22" }).click();
  const input = r.getByRole("textbox", { name: "New name for gb-22" });
  await input.fill("gb-22 <b>tuned</b> ✓");
  await input.press("Enter");
  await expect(r.locator("a.run-link")).toHaveText("gb-22 <b>tuned</b> ✓");
  expect((await getRun(api, id)).info.run_name).toBe("gb-22 <b>tuned</b> ✓");
  // Escape keeps the name; F2 on a focused row edits it
  await r.click({ position: { x: 300, y: 10 } });
  await r.press("F2");
  await r.getByRole("textbox").fill("ignored");
  await r.getByRole("textbox").press("Escape");
  await expect(r.locator("a.run-link")).toHaveText("gb-22 <b>tuned</b> ✓");

  // pin: the run moves to the top and stays there after a reload
  await r.hover();
  await r.getByRole("button", { name: /^Pin / }).click();
  await expect(rows(page).first()).toHaveAttribute("data-run-id", id);
  await page.reload();
  await expect(rows(page).first()).toHaveAttribute("data-run-id", id);
  await expect(rows(page).first()).toHaveClass(/pinned-run/);
});

test("Registered as and Datasets columns, the dataset filter, default metric columns", async ({ page, api }) => {
  const seeded = await seedProject(api, `registered-${Date.now()}`);
  const id = seeded.runIds.get("rf-21")!;
  const model = `churn-${Date.now() % 100000}`;
  await api.post("/registered-models/create", { name: model });
  await api.post("/model-versions/create", { name: model, source: `runs:/${id}/model`, run_id: id });
  await api.post("/model-versions/create", { name: model, source: `runs:/${id}/model`, run_id: id });
  await api.post("/runs/log-inputs", {
    run_id: id,
    datasets: [{ dataset: { name: "churn-train", digest: "abc123", source_type: "local", source: '{"uri": "/data/churn.csv"}' }, tags: [{ key: "mlflow.data.context", value: "training" }] }],
  });
  await open(page, seeded);
  const head = page.locator("thead");
  await expect(head).toContainText("Registered as");
  const cell = row(page, id).getByRole("link", { name: `${model} v2` });
  await expect(cell).toBeVisible();
  await expect(row(page, id).getByRole("link", { name: `${model} v1` })).toBeVisible();

  // the dataset filter narrows to the runs that used it
  await page.getByRole("combobox", { name: "Dataset" }).selectOption("churn-train");
  await expect(page.getByRole("grid", { name: "Runs" })).toHaveAttribute("aria-rowcount", "2");
  await expect(page.getByRole("combobox", { name: "Filter runs" })).toHaveValue("datasets.name = 'churn-train'");
  await page.getByRole("button", { name: /^Columns/ }).click();
  const dialog = page.getByRole("dialog", { name: "Choose columns" });
  await dialog.getByRole("checkbox", { name: "Datasets" }).check();
  await page.keyboard.press("Escape");
  await expect(row(page, id)).toContainText("churn-train");

  // the link opens the version's page
  await cell.click();
  await expect(page).toHaveURL(new RegExp(`/models/${model}/versions/2`));
});

test("auto-refresh while a run is RUNNING, and its pause", async ({ page, api }) => {
  const seeded = await seedProject(api, `refresh-${Date.now()}`);
  await open(page, seeded);
  const running = seeded.runIds.get("lr-23")!;
  const toggle = page.getByTestId("refresh-toggle");
  await expect(toggle).toHaveAttribute("aria-pressed", "true");
  await api.post("/runs/log-batch", { run_id: running, metrics: [{ key: "accuracy", value: 0.123456, timestamp: Date.now(), step: 1 }] });
  await expect(row(page, running)).toContainText("0.123456", { timeout: 15_000 });

  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-pressed", "false");
  await expect(toggle).toContainText("paused");
  await api.post("/runs/log-batch", { run_id: running, metrics: [{ key: "accuracy", value: 0.654321, timestamp: Date.now(), step: 2 }] });
  await page.waitForTimeout(7000); // longer than one refresh period: nothing may change while paused
  await expect(row(page, running)).toContainText("0.123456");
  await toggle.click();
  await expect(row(page, running)).toContainText("0.654321", { timeout: 15_000 });

  // the run finishes: the toggle goes away with the last RUNNING run
  await api.finish(running);
  await expect(toggle).toHaveCount(0, { timeout: 15_000 });
});

test("1280×720 shows the run name and six metric columns; screenshots", async ({ page, api }) => {
  const experimentId = await api.createExperiment(`layout-${Date.now()}`);
  const keys = ["loss", "val_loss", "accuracy", "val_accuracy", "f1_score", "precision", "recall", "auc"];
  for (let i = 0; i < 30; i++) {
    const id = await api.createRun(experimentId, `resnet50-lr${(0.001 * (i + 1)).toFixed(3)}-bs${32 << i % 3}`, { start: Date.parse("2026-11-20T09:00:00Z") + i * 600_000 });
    const metrics = Object.fromEntries(keys.map((k, j) => [k, Math.round(((i * 7 + j * 13) % 100) / 100 * 10_000) / 10_000]));
    await api.logBatch(id, { lr: (0.001 * (i + 1)).toFixed(3), batch_size: 32 << i % 3, optimizer: i % 2 ? "adam" : "sgd" }, metrics, { team: i % 3 ? "vision" : "research" });
    await api.finish(id, i === 29 ? "FAILED" : "FINISHED", Date.parse("2026-11-20T09:00:00Z") + i * 600_000 + 300_000);
  }
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(`/experiments/${experimentId}`);
  await expect(rows(page).first()).toBeVisible();
  await page.getByTestId("insights-toggle").click(); // fold the insights: the table's own space
  const visibleMetrics = await page.locator("thead th").evaluateAll((ths) =>
    ths.filter((th) => {
      const r = th.getBoundingClientRect();
      return r.right <= window.innerWidth && r.width > 0 && th.querySelector(".kind.metrics");
    }).length,
  );
  expect(visibleMetrics).toBeGreaterThanOrEqual(6);
  await expect(page.locator(`thead th[title="Run name"]`)).toBeVisible();
  await setTheme(page, "light");
  await shot(page, "runs-table-1280");
  await page.setViewportSize({ width: 1440, height: 900 });
  await shot(page, "runs-table-1440");
  await page.getByRole("combobox", { name: "Group by" }).selectOption("params.optimizer");
  await expect(page.getByTestId("grouped-runs")).toBeVisible();
  await shot(page, "runs-grouped-1440");
  await page.setViewportSize({ width: 1280, height: 720 });
  await shot(page, "runs-grouped-1280");
  await page.getByTestId("insights-toggle").click();
});
