// Registry actions and the links between runs, datasets, model versions and charts, in
// headless Chromium against a live server: every action is done with the page (keyboard where
// it matters) and then checked through the API.
import { test, expect } from "./fixtures";
import { IRIS_PROFILE, IRIS_SCHEMA, Seeder } from "./registry-seed";
import { shot } from "./shots";

const API = "/api/2.0/mlflow";

let s: Seeder;
let suffix: string;
let experimentId: string;
let runId: string;
let otherRunId: string;
let loggedModelId: string;

/** GET through the API; the status and the body (a 404 is an answer here, not a failure). */
async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${s.url}${path}`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function versionsOfRun(id: string): Promise<{ name: string; version: string; source: string }[]> {
  const r = await s.get<{ model_versions?: { name: string; version: string; source: string }[] }>(
    `${API}/model-versions/search?filter=${encodeURIComponent(`run_id = '${id}'`)}`,
  );
  return r.model_versions ?? [];
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  s = new Seeder(process.env.CAIRN_E2E_URL!);
  suffix = String(Date.now());
  experimentId = await s.experiment(`actions-${suffix}`);
  const run = await s.run(experimentId, `trainer-${suffix}`);
  runId = run.id;
  await s.log(runId, { lr: 0.1 }, { loss: [0.9, 0.5, 0.3], accuracy: [0.91] });
  await s.dataset(runId, `iris-actions-${suffix}`, "d1g3st00", "training", IRIS_PROFILE, IRIS_SCHEMA);
  await s.artifact(run.artifactUri, "model/MLmodel", "flavors:\n  python_function: {}\n");
  const other = await s.run(experimentId, `second-${suffix}`);
  otherRunId = other.id;
  await s.log(otherRunId, { lr: 0.2 }, { loss: [0.8, 0.6], accuracy: [0.88] });
  await s.dataset(otherRunId, `iris-actions-${suffix}`, "d1g3st00", "training", IRIS_PROFILE, IRIS_SCHEMA);
  // an MLflow 3 logged model the first run produced
  const created = await s.post<{ model: { info: { model_id: string; artifact_uri: string } } }>("/logged-models", {
    experiment_id: experimentId,
    name: "iris-clf",
    source_run_id: runId,
  });
  loggedModelId = created.model.info.model_id;
  await s.artifact(created.model.info.artifact_uri, "MLmodel", "flavors:\n  python_function: {}\n");
  await s.call("PATCH", `${API}/logged-models/${loggedModelId}`, { model_id: loggedModelId, status: "LOGGED_MODEL_READY" });
});

test("create, rename and delete a registered model; each checked through the API", async ({ page, allowHttpErrors }) => {
  allowHttpErrors.push(400); // the duplicate name below
  const name = `made-in-ui-${suffix}`;
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto("/models");
  await page.getByTestId("create-model-open").click();
  await page.getByTestId("create-model-name").fill(name);
  await page.getByLabel("New model description").fill("Made with the New model form");
  await shot(page, "model-create");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/models/${name}$`));
  await expect(page.getByRole("heading", { name })).toBeVisible();
  const made = await s.get<{ registered_model: { name: string; description: string } }>(`${API}/registered-models/get?name=${name}`);
  expect(made.registered_model.description).toBe("Made with the New model form");

  // the same name again: the server's refusal is shown next to the form
  await page.goto("/models");
  await page.getByTestId("create-model-open").click();
  await page.getByTestId("create-model-name").fill(name);
  await page.getByTestId("create-model-submit").click();
  await expect(page.getByTestId("create-model-form").getByRole("alert")).toContainText(name);

  // rename, from the keyboard
  await page.goto(`/models/${name}`);
  await page.getByTestId("rename-model").focus();
  await page.keyboard.press("Enter");
  const field = page.getByTestId("rename-model-name");
  await expect(field).toBeFocused();
  await field.fill(`${name}-renamed`);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/models/${name}-renamed$`));
  await expect(page.getByRole("heading", { name: `${name}-renamed` })).toBeVisible();
  expect((await get(`${API}/registered-models/get?name=${name}`)).status).toBe(404);
  expect((await get(`${API}/registered-models/get?name=${name}-renamed`)).status).toBe(200);
  await shot(page, "model-actions");

  // delete asks first; "Keep" keeps it
  await page.getByTestId("delete-model").click();
  await page.getByRole("button", { name: "Keep" }).click();
  expect((await get(`${API}/registered-models/get?name=${name}-renamed`)).status).toBe(200);
  await page.getByTestId("delete-model").click();
  await expect(page.getByRole("group", { name: `Confirm deleting ${name}-renamed` })).toContainText("cannot be undone");
  await expect(page.getByTestId("delete-model-confirm")).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/models$/);
  expect((await get(`${API}/registered-models/get?name=${name}-renamed`)).status).toBe(404);
  await expect(page.getByTestId("models-table").getByRole("link", { name: `${name}-renamed` })).toHaveCount(0);
});

test("register versions from a run's logged model and artifact folder; run <-> version links; delete a version", async ({ page, allowHttpErrors }) => {
  allowHttpErrors.push(400); // the folder outside the run below
  const name = `registered-from-run-${suffix}`;
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`/runs/${runId}`);
  await expect(page.getByTestId("run-registered")).toHaveText("not registered");

  // from the logged model, as a model that does not exist yet (the form creates it)
  await page.getByTestId("register-open").click();
  await expect(page.getByTestId("register-source")).toHaveValue(`models:/${loggedModelId}`);
  await page.getByTestId("register-name").fill(name);
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("register-done")).toContainText(`${name} version 1`);
  await expect(page.getByTestId("run-registered-link")).toHaveText(`${name} v1`);
  // from an artifact folder, as the next version of the same model
  await page.getByTestId("register-source").selectOption("__folder__");
  await page.getByTestId("register-folder").fill("model");
  await page.getByTestId("register-submit").click();
  await expect(page.getByTestId("register-done")).toContainText(`${name} version 2`);
  await expect(page.getByTestId("run-registered-link")).toHaveCount(2);
  await shot(page, "run-register", page.locator("#models"));

  const versions = await versionsOfRun(runId);
  expect(versions.map((v) => [v.version, v.source]).sort()).toEqual([
    ["1", `models:/${loggedModelId}`],
    ["2", `runs:/${runId}/model`],
  ]);
  const v1 = await s.get<{ model_version: { run_id?: string } }>(`${API}/model-versions/get?name=${name}&version=1`);
  expect(v1.model_version.run_id).toBe(runId);

  // a folder the run does not have: the server's message is shown
  await page.getByTestId("register-folder").fill("../escape");
  await page.getByTestId("register-submit").click();
  await expect(page.getByTestId("register-form").getByRole("alert")).toContainText("Invalid model version source");
  expect(await versionsOfRun(runId)).toHaveLength(2);

  // run -> version -> run
  await page.getByTestId("run-registered-link").filter({ hasText: `${name} v2` }).click();
  await expect(page).toHaveURL(new RegExp(`/models/${name}/versions/2$`));
  await page.getByTestId("version-run-link").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${runId}$`));

  // delete version 1 from the model page with the keyboard; then version 2 from its own page
  await page.goto(`/models/${name}`);
  await page.getByRole("button", { name: "Delete version 1" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("button", { name: "Confirm deleting version 1" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("version-row-1")).toHaveCount(0);
  expect((await get(`${API}/model-versions/get?name=${name}&version=1`)).status).toBe(404);
  await page.goto(`/models/${name}/versions/2`);
  await page.getByRole("button", { name: "Delete version 2" }).click();
  await page.getByRole("button", { name: "Confirm deleting version 2" }).click();
  await expect(page).toHaveURL(new RegExp(`/models/${name}$`));
  await expect(page.getByTestId("versions-table")).toContainText("No versions yet.");
  expect(await versionsOfRun(runId)).toHaveLength(0);
});

test("links: run <-> dataset pages, dataset -> experiment by name, compare -> charts", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(`/runs/${runId}`);
  const datasetLink = page.getByTestId("run-dataset-link");
  await expect(datasetLink).toHaveText(`iris-actions-${suffix}`);
  await datasetLink.click();
  await expect(page.getByTestId("dataset-page")).toBeVisible();
  await expect(page.getByTestId("dataset-experiment")).toHaveText(`actions-${suffix}`);
  await expect(page.getByTestId("dataset-runs")).toContainText("2 runs");
  await expect(page.getByTestId("dataset-run-link")).toHaveCount(2);
  await shot(page, "dataset-links");
  await page.getByTestId("dataset-run-link").filter({ hasText: `second-${suffix}` }).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${otherRunId}$`));
  await page.goto(`/datasets?q=iris-actions-${suffix}`);
  await expect(page.getByTestId("datasets-count")).toHaveText("1 dataset, used 2 times");
  await page.getByTestId("dataset-row").getByRole("link", { name: `actions-${suffix}`, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/experiments/${experimentId}`));

  await page.goto(`/compare?runs=${runId},${otherRunId}`);
  await expect(page.getByRole("heading", { name: "Comparing 2 runs" })).toBeVisible();
  // two runs share the width of a 1280 px window (columns up to 440 px) instead of two 132 px
  // columns at the left
  const table = await page.getByTestId("compare-table").boundingBox();
  const box = await page.getByTestId("compare-table-scroll").boundingBox();
  expect(table!.width).toBeGreaterThan(box!.width * 0.85);
  expect(table!.width).toBeLessThanOrEqual(box!.width + 1);
  await shot(page, "compare-2-1280");
  await page.getByTestId("compare-open-charts").click();
  await expect(page).toHaveURL(/\/metrics\?/);
  const url = new URL(page.url());
  expect(url.searchParams.get("runs")?.split(",").sort()).toEqual([runId, otherRunId].sort());
  expect(url.searchParams.get("keys")?.split(",")).toEqual(["accuracy", "loss"]);
  await page.goBack();
  await page.getByTestId("compare-table").getByRole("link", { name: "loss" }).click();
  await expect(page).toHaveURL(/keys=loss(&|$)/);
});

test("skip link: one Tab then Enter puts the focus in the page, the next Tab on its first control", async ({ page }) => {
  await page.goto(`/experiments/${experimentId}`);
  await expect(page.getByRole("link", { name: `trainer-${suffix}` }).first()).toBeVisible();
  await page.keyboard.press("Tab");
  const skip = page.getByTestId("skip-link");
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press("Enter");
  await expect(page.locator("main#main")).toBeFocused();
  await page.keyboard.press("Tab");
  const inMain = await page.evaluate(() => !!document.activeElement?.closest("main"));
  expect(inMain).toBe(true);
});
