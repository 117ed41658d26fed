// Datasets in headless Chromium: the list across experiments, a dataset page with schema,
// profile (label distribution chart, numeric and text-length statistics) and the lineage
// graph, whose nodes open the run and model-version pages when clicked.
import type { Page } from "@playwright/test";
import { test, expect } from "./fixtures";
import { expectDrawn } from "./canvas";
import { Seeder, seedRegistry, type RegistrySeed } from "./registry-seed";
import { setTheme, shot } from "./shots";

let seed: RegistrySeed;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  const s = new Seeder(process.env.CAIRN_E2E_URL!);
  seed = await seedRegistry(s, `d${Date.now()}`);
  // a second dataset in another experiment, without labels
  const eid = await s.experiment(`wine-${Date.now()}`);
  const run = await s.run(eid, "wine-eval");
  const profile = { num_rows: 178, num_elements: 2314, targets: null, label_distribution: null, numeric: { alcohol: { count: 178, nulls: 0, min: 11.03, max: 14.83, mean: 13.0, std: 0.81, p50: 13.05 } }, text_length: {} };
  await s.dataset(run.id, "wine", "9f8e7d6c5b4a", "evaluation", profile, { mlflow_colspec: [{ name: "alcohol", type: "double" }] });
});

/** Click a lineage node on the canvas where the chart drew it. */
async function clickNode(page: Page, nodeId: string) {
  const item = page.getByTestId("lineage-links").locator(`li[data-node="${nodeId}"]`);
  await expect(item).toHaveAttribute("data-x", /\d+/);
  const x = Number(await item.getAttribute("data-x"));
  const y = Number(await item.getAttribute("data-y"));
  const box = (await page.getByTestId("lineage-graph").boundingBox())!;
  await page.mouse.click(box.x + x, box.y + y);
}

test("datasets list across experiments", async ({ page }) => {
  await page.goto("/datasets");
  const row = page.getByTestId("dataset-row").filter({ hasText: seed.model.replace("clf-", "iris-") });
  await expect(row).toBeVisible();
  await expect(row).toContainText("a1b2c3d4e5f6");
  await expect(row).toContainText("/data/iris-");
  await expect(row).toContainText("150");
  await expect(row).toContainText("4 runs");
  await expect(row.getByRole("link", { name: /^registry-d/ })).toBeVisible(); // the experiment's name
  const wine = page.getByTestId("dataset-row").filter({ hasText: "wine" });
  await expect(wine).toContainText("178");
  await expect(wine).toContainText("1 run");
  await shot(page, "datasets");
  await row.getByRole("link").first().click();
  await expect(page).toHaveURL(new RegExp(`/datasets/${seed.datasetId}$`));
});

test("dataset page: schema, profile, lineage graph whose nodes navigate", async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 1500 });
  await page.goto(`/datasets/${seed.datasetId}`);
  await expect(page.getByTestId("dataset-page")).toBeVisible();
  await expect(page.getByTestId("schema-table")).toContainText("sepal_length");
  await expect(page.getByTestId("schema-table")).toContainText("double");
  await expectDrawn(page, "label-chart");
  await expect(page.getByTestId("numeric-stats")).toContainText("petal_length");
  await expect(page.getByTestId("numeric-stats")).toContainText("5.843");
  await expect(page.getByTestId("text-stats")).toContainText("note");
  await expectDrawn(page, "lineage-graph");
  // dataset, 4 runs, 4 versions, 2 aliases, 2 stages
  await expect(page.getByTestId("lineage-links").locator("li")).toHaveCount(13);
  await shot(page, "datasets-detail");
  await setTheme(page, "dark");
  await expectDrawn(page, "lineage-graph");
  await shot(page, "datasets-detail-dark");
  await setTheme(page, "light");

  await clickNode(page, `run:${seed.runs[2]}`);
  await expect(page).toHaveURL(new RegExp(`/runs/${seed.runs[2]}$`));
  await page.goBack();
  await expect(page.getByTestId("lineage-graph")).toBeVisible();
  await clickNode(page, `version:${seed.model}/3`);
  await expect(page).toHaveURL(new RegExp(`/models/${seed.model}/versions/3$`));
  await expect(page.getByTestId("model-version-page")).toBeVisible();
  await page.goBack();
  await clickNode(page, `alias:${seed.model}@champion`);
  await expect(page).toHaveURL(new RegExp(`/models/${seed.model}/versions/2$`));
  await page.goBack();
  await clickNode(page, `stage:${seed.model}/Staging/3`);
  await expect(page).toHaveURL(new RegExp(`/models/${seed.model}$`));
  await expect(page.getByTestId("model-page")).toBeVisible();
});
