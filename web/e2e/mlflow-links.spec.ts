import { test, expect } from "./fixtures";

// The mlflow client prints `http://host/#/experiments/<id>/runs/<run>` after every run: on Cairn
// that link opens the run's page, and links to what does not exist say so with a way back.
test.describe("MLflow's links", () => {
  test.use({ allowHttpErrors: [404] });

  test("a run link, an experiment link and a registry link open their Cairn pages", async ({ page, api }) => {
    const experimentId = await api.createExperiment(`mlflow-links-${Date.now()}`);
    const runId = await api.createRun(experimentId, "linked-run");
    await api.finish(runId);

    await page.goto(`/#/experiments/${experimentId}/runs/${runId}`);
    await expect(page).toHaveURL(new RegExp(`/runs/${runId}$`));
    await expect(page.getByRole("heading", { level: 1 })).toContainText("linked-run");

    await page.goto(`/#/experiments/${experimentId}`);
    await expect(page).toHaveURL(new RegExp(`/experiments/${experimentId}$`));
    await expect(page.getByTestId("run-count")).toContainText("1 run");

    await page.goto(`/#/compare-runs?runs=${encodeURIComponent(JSON.stringify([runId]))}`);
    await expect(page).toHaveURL(new RegExp(`/compare\\?runs=${runId}$`));

    await page.goto("/#/models");
    await expect(page).toHaveURL(/\/models$/);
  });

  test("an unknown experiment or run says not found, with a way back", async ({ page }) => {
    await page.goto("/#/experiments/987654321");
    await expect(page.getByRole("heading", { name: "Experiment not found" })).toBeVisible();
    await expect(page.getByRole("table")).toHaveCount(0);
    await page.getByRole("link", { name: "Back to the experiments" }).click();
    await expect(page).toHaveURL(/\/$/);

    await page.goto("/#/experiments/1/runs/0123456789abcdef0123456789abcdef");
    await expect(page.getByRole("heading", { name: "No such run" })).toBeVisible();
  });
});
