import { test, expect } from "./fixtures";
import { setTheme, shot, SHOTS } from "./shots";
import { seedProject } from "./seed";

test("create, rename, delete and restore an experiment", async ({ page, api }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Experiments" })).toBeVisible();

  const name = `e2e-crud-${Date.now()}`;
  await page.getByRole("button", { name: "+ New experiment" }).click();
  await page.getByLabel("New experiment name").fill(name);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await expect(page).toHaveURL(/\/experiments\/\d+$/);
  const id = page.url().split("/").pop()!;
  await expect(page.getByRole("heading", { name })).toBeVisible();
  await expect(page.getByTestId("no-runs")).toBeVisible();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Experiments" }).click();
  const row = page.getByTestId(`experiment-${id}`);
  await expect(row).toContainText(name);
  await expect(row).toContainText("0");

  const renamed = `${name}-renamed`;
  await row.getByRole("button", { name: `Rename ${name}` }).click();
  await row.getByLabel(`New name for ${name}`).fill(renamed);
  await row.getByRole("button", { name: "Save" }).click();
  await expect(row.getByRole("link", { name: renamed })).toBeVisible();
  expect((await api.get(`/experiments/get?experiment_id=${id}`)).experiment.name).toBe(renamed);

  await row.getByRole("button", { name: `Delete ${renamed}` }).click();
  await row.getByRole("button", { name: "Confirm delete" }).click();
  await expect(row).toHaveCount(0);

  await page.getByLabel("Show deleted").check();
  await expect(page).toHaveURL(/deleted=1/);
  await expect(row).toContainText("deleted");
  await row.getByRole("button", { name: "Restore" }).click();
  await expect(row).not.toContainText("deleted");
  expect((await api.get(`/experiments/get?experiment_id=${id}`)).experiment.lifecycle_stage).toBe("active");

  await page.getByLabel("Show deleted").uncheck();
  await expect(row).toBeVisible();
});

test.describe("refusals", () => {
  test.use({ allowHttpErrors: [400] });
  test("a taken name is refused with the server's message", async ({ page, api }) => {
  const name = `e2e-taken-${Date.now()}`;
  await api.createExperiment(name);
  await page.goto("/");
  await page.getByRole("button", { name: "+ New experiment" }).click();
  await page.getByLabel("New experiment name").fill(name);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await expect(page.locator(".create-form .error-box")).toContainText("already exists");
  });
});

test("search, run counts and last activity; screenshots", async ({ page, api }) => {
  const seeded = await seedProject(api, `lims-contamination-${Date.now() % 100000}`);
  for (const n of ["baseline-cnn", "tokenizer-ablation", "drift-monitor"]) {
    const eid = await api.createExperiment(`${n}-${Date.now() % 100000}`);
    const run = await api.createRun(eid, `${n}-run`);
    await api.logBatch(run, { a: 1 }, { m: 0.5 });
    await api.finish(run);
  }
  await page.goto("/");
  const row = page.getByTestId(`experiment-${seeded.experimentId}`);
  await expect(row).toContainText("29"); // 24 runs + a sweep with 4 trials
  await expect(row).toContainText("1 running");
  await expect(row).toContainText(/ago|20\d\d-/);

  await page.getByLabel("Search experiments").fill("lims");
  await expect(page.locator("tbody tr")).toHaveCount(1);
  await expect(page).toHaveURL(/q=lims/);
  await page.getByLabel("Search experiments").fill("no-such-thing");
  await expect(page.getByText("No experiment matches")).toBeVisible();
  await page.getByLabel("Search experiments").fill("");
  await expect(row).toBeVisible(); // clearing the search brings the rows back

  await shot(page, "experiments");
  if (SHOTS) {
    await setTheme(page, "dark");
    await shot(page, "experiments-dark");
    await setTheme(page, "light");
  }

  await row.getByRole("link").first().click();
  await expect(page).toHaveURL(new RegExp(`/experiments/${seeded.experimentId}$`));
});
