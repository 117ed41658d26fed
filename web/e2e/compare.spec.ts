// Compare runs in headless Chromium: 2, 10 and 100 runs (100 × 50 params) across two
// experiments; the table marks differing rows and hides equal ones; every chart draws.
import type { Page } from "@playwright/test";
import { test, expect } from "./fixtures";
import { Seeder, seedManyRuns } from "./registry-seed";
import { canvasPrint, expectDrawn } from "./canvas";
import { setTheme, shot } from "./shots";

let runs: string[] = [];

test.beforeAll(async () => {
  test.setTimeout(300_000);
  runs = await seedManyRuns(new Seeder(process.env.CAIRN_E2E_URL!), `cmp${Date.now()}`, 100, 50);
});

async function openCompare(page: Page, ids: string[]) {
  await page.setViewportSize({ width: 1366, height: 2600 });
  await page.goto(`/compare?runs=${ids.join(",")}`);
  await expect(page.getByRole("heading", { name: `Comparing ${ids.length} runs` })).toBeVisible();
  await expect(page.getByTestId("compare-table")).toBeVisible();
}

async function expectAllCharts(page: Page) {
  for (const id of ["metric-chart-accuracy", "metric-chart-loss", "parallel-chart", "scatter-chart", "box-chart"]) {
    await expectDrawn(page, id);
  }
}

test("compare 2 runs: differing rows highlighted, hide equal, charts", async ({ page }) => {
  await openCompare(page, runs.slice(0, 2));
  const table = page.getByTestId("compare-table");
  // 2 runs from two experiments
  await expect(table.getByTestId("run-column")).toHaveCount(2);
  await expect(page.getByRole("link", { name: /^sweep-a-cmp/ })).toBeVisible();
  await expect(page.getByRole("link", { name: /^sweep-b-cmp/ })).toBeVisible();
  const rows = page.getByTestId("compare-row");
  await expect(rows).toHaveCount(54); // 50 params + 4 metrics
  const differing = page.locator('[data-testid="compare-row"][data-differs="true"]');
  const nDiff = await differing.count();
  expect(nDiff).toBeGreaterThan(0);
  expect(nDiff).toBeLessThan(54);
  await expect(table.locator("tr.diff").first()).toBeVisible();
  await page.getByTestId("hide-equal").check();
  await expect(rows).toHaveCount(nDiff);
  await expect(page.locator('[data-testid="compare-row"][data-differs="false"]')).toHaveCount(0);
  await page.getByTestId("hide-equal").uncheck();
  await expect(rows).toHaveCount(54);
  await expectAllCharts(page);
  await shot(page, "compare-2");
});

test("compare 10 runs: scatter and box selectors redraw, brushing the parallel chart filters", async ({ page }) => {
  await openCompare(page, runs.slice(0, 10));
  await expect(page.getByTestId("compare-table").getByTestId("run-column")).toHaveCount(10);
  await expectAllCharts(page);
  await page.getByTestId("scatter-x").selectOption("param:param_01");
  await page.getByTestId("scatter-y").selectOption("metric:f1");
  await expectDrawn(page, "scatter-chart");
  await page.getByTestId("box-param").selectOption("param_07");
  await page.getByTestId("box-metric").selectOption("latency_ms");
  await expectDrawn(page, "box-chart");
  const uncoloured = await canvasPrint(page, "parallel-chart");
  await page.getByTestId("parallel-color").selectOption("metric:f1");
  // the new colours are drawn before the brush, or the redraw would clear it
  await expect.poll(() => canvasPrint(page, "parallel-chart"), { message: "parallel chart redrawn in the new colours" }).not.toBe(uncoloured);
  // brush the first axis over its upper half: fewer runs stay active
  const box = (await page.getByTestId("parallel-chart").boundingBox())!;
  const x = box.x + 48 + 1;
  await page.mouse.move(x, box.y + 100);
  await page.mouse.down();
  await page.mouse.move(x + 2, box.y + 200, { steps: 8 });
  await page.mouse.up();
  await expect(page.getByTestId("brushed-runs")).toBeVisible();
  await expect(page.getByTestId("brushed-runs")).toContainText("runs in the brushed range");
  await shot(page, "compare-10");
  // another colour redraws the chart without the brush, and the brushed list goes with it
  const brushedPrint = await canvasPrint(page, "parallel-chart");
  await page.getByTestId("parallel-color").selectOption("metric:accuracy");
  await expect(page.getByTestId("brushed-runs")).toHaveCount(0);
  await expect.poll(() => canvasPrint(page, "parallel-chart"), { message: "parallel chart redrawn unbrushed" }).not.toBe(brushedPrint);
});

test("compare 100 runs × 50 params", async ({ page }) => {
  await openCompare(page, runs);
  const table = page.getByTestId("compare-table");
  await expect(table).toHaveAttribute("data-runs", "100");
  await expect(page.getByTestId("compare-row")).toHaveCount(54);
  // only the columns in view are in the page; scrolling right brings the last runs in
  await expect(table.getByRole("link", { name: "sweep-0", exact: true })).toBeVisible();
  // the first run's column sits right after the key column, on screen
  expect((await table.getByRole("link", { name: "sweep-0", exact: true }).boundingBox())!.x).toBeLessThan(400);
  expect((await table.getByRole("link", { name: "sweep-5", exact: true }).boundingBox())!.x).toBeLessThan(1300);
  await expect(table.getByRole("link", { name: "sweep-99", exact: true })).toHaveCount(0);
  await page.getByTestId("compare-table-scroll").evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
  await expect(table.getByRole("link", { name: "sweep-99", exact: true })).toBeVisible();
  const lastRow = page.getByTestId("compare-row").filter({ hasText: "param_11" });
  await expect(lastRow.locator("td").last().locator("xpath=preceding-sibling::td[1]")).toHaveText("11");
  await page.getByTestId("compare-table-scroll").evaluate((el) => el.scrollTo({ left: 0 }));
  await expectAllCharts(page);
  await shot(page, "compare-100");
  await setTheme(page, "dark");
  await expectAllCharts(page);
  await shot(page, "compare-100-dark");
  await setTheme(page, "light");
});

test("compare explains what it needs with fewer than 2 runs", async ({ page }) => {
  await page.goto(`/compare?runs=${runs[0]}`);
  await expect(page.getByTestId("compare-empty")).toBeVisible();
});
