// The model registry pages in headless Chromium: the list and comparison, a model page with
// its actions (stage transition, alias move, description and tags), each verified through
// the API and in the promotion history, and the version page with its URIs and files.
import { test, expect } from "./fixtures";
import { expectDrawn } from "./canvas";
import { Seeder, seedRegistry, type RegistrySeed } from "./registry-seed";
import { setTheme, shot } from "./shots";

const API = "/api/2.0/mlflow";

let seed: RegistrySeed;
let other: RegistrySeed;
let s: Seeder;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  s = new Seeder(process.env.CAIRN_E2E_URL!);
  const suffix = String(Date.now());
  seed = await seedRegistry(s, `m${suffix}`);
  other = await seedRegistry(s, `o${suffix}`);
});

interface Version {
  version: string;
  current_stage: string;
  aliases?: string[];
  description?: string;
  tags?: { key: string; value: string }[];
}

async function version(name: string, v: string): Promise<Version> {
  return (await s.get<{ model_version: Version }>(`${API}/model-versions/get?name=${encodeURIComponent(name)}&version=${v}`)).model_version;
}

test("models list: search, latest version per stage, aliases, tags; compare two models", async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 1100 });
  await page.goto("/models");
  const table = page.getByTestId("models-table");
  const row = table.getByTestId("model-row").filter({ hasText: seed.model });
  await expect(row).toBeVisible();
  await expect(row).toContainText("@champion → v2");
  await expect(row).toContainText("@candidate → v3");
  await expect(row).toContainText("Production");
  await expect(row).toContainText("Staging");
  await expect(row).toContainText("team=lab");
  await page.getByTestId("models-search").fill(seed.model.slice(0, 10));
  await page.getByRole("button", { name: "Search" }).click();
  await expect(table.getByTestId("model-row")).toHaveCount(1);
  await page.getByTestId("models-search").fill(`tags.team = 'lab' AND name LIKE '%${seed.model.slice(4)}'`);
  await page.getByRole("button", { name: "Search" }).click();
  await expect(table.getByTestId("model-row")).toHaveCount(1);
  await expect(table.getByTestId("model-row")).toContainText(seed.model);
  await page.getByTestId("models-search").fill("");
  await page.getByRole("button", { name: "Search" }).click();
  // every model again (other test files register models on the same server too)
  await expect(table.getByTestId("model-row").filter({ hasText: seed.model })).toHaveCount(1);
  await expect(table.getByTestId("model-row").filter({ hasText: other.model })).toHaveCount(1);
  expect(await table.getByTestId("model-row").count()).toBeGreaterThanOrEqual(2);
  await shot(page, "models");

  await page.getByLabel(`Select ${seed.model}`).check();
  await page.getByLabel(`Select ${other.model}`).check();
  await page.getByTestId("compare-models").click();
  const cmp = page.getByTestId("models-comparison");
  await expect(cmp).toContainText("Comparing 2 models");
  await expect(cmp.getByRole("link", { name: "v2" }).first()).toBeVisible();
  await expect(cmp).toContainText("metric accuracy");
  await expectDrawn(page, "models-compare-chart");
  await page.getByTestId("compare-stage").selectOption("latest");
  await expect(cmp.getByRole("link", { name: "v4" }).first()).toBeVisible();
  await expect(page).toHaveURL(/stage=latest/);
  await shot(page, "models-compare");
});

test("model page: stage transition with archive existing, verified through the API and in the history", async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 1400 });
  await page.goto(`/models/${seed.model}`);
  await expect(page.getByRole("heading", { name: seed.model })).toBeVisible();
  const v4 = page.getByTestId("version-row-4");
  await expect(v4.getByTestId("version-stage")).toHaveText("None");
  await expect(page.getByTestId("version-row-2").getByTestId("version-aliases")).toHaveText("@champion");
  await expect(v4).toContainText("accuracy: 0.88");
  await expect(v4.getByRole("link", { name: `iris-${seed.model.slice(4)}` })).toBeVisible();
  await expectDrawn(page, "perf-chart");

  const action = page.getByTestId("stage-action-4");
  await action.getByRole("combobox").selectOption("Production");
  await action.getByRole("checkbox").check();
  await action.getByRole("button", { name: "Transition" }).click();
  await expect(v4.getByTestId("version-stage")).toHaveText("Production");
  await expect(page.getByTestId("version-row-2").getByTestId("version-stage")).toHaveText("Archived");
  expect((await version(seed.model, "4")).current_stage).toBe("Production");
  expect((await version(seed.model, "2")).current_stage).toBe("Archived");
  const timeline = page.getByTestId("history-timeline");
  await expect(timeline.getByTestId("history-event").first()).toBeVisible();
  await expect(timeline).toContainText("version 4 moved from None to Production");
  await expect(timeline).toContainText("version 2 moved from Production to Archived");
});

test("model page: move an alias, edit description and tags", async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 1400 });
  await page.goto(`/models/${seed.model}`);
  const card = page.getByTestId("alias-card");
  await card.getByTestId("alias-name").fill("champion");
  await card.getByTestId("alias-version").selectOption("3");
  await card.getByTestId("alias-set").click();
  await expect(card.getByTestId("alias").filter({ hasText: "@champion" })).toContainText("v3");
  await expect(page.getByTestId("version-row-3").getByTestId("version-aliases")).toContainText("@champion");
  const byAlias = await s.get<{ model_version: Version }>(`${API}/registered-models/alias?name=${seed.model}&alias=champion`);
  expect(byAlias.model_version.version).toBe("3");
  await expect(page.getByTestId("history-timeline")).toContainText("alias @champion moved from version 2 to version 3");
  const events = await s.get<{ events: { kind: string; to: string | null; version: string | null }[] }>(`/api/v1/models/${seed.model}/history`);
  expect(events.events[0]).toMatchObject({ kind: "alias_moved", to: "champion", version: "3" });

  // a new alias, then remove it
  await card.getByTestId("alias-name").fill("shadow");
  await card.getByTestId("alias-version").selectOption("1");
  await card.getByTestId("alias-set").click();
  await expect(card.getByTestId("alias").filter({ hasText: "@shadow" })).toContainText("v1");
  await card.getByRole("button", { name: "Remove alias shadow" }).click();
  await expect(card.getByTestId("alias").filter({ hasText: "@shadow" })).toHaveCount(0);
  await expect(page.getByTestId("history-timeline")).toContainText("alias @shadow removed from version 1");

  const desc = page.getByTestId("model-description");
  await desc.getByRole("button", { name: "Edit description" }).click();
  await desc.getByLabel("Description").fill("Iris classifier, retrained weekly");
  await desc.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("model-description-text")).toHaveText("Iris classifier, retrained weekly");
  const tags = page.getByTestId("model-tags");
  await tags.getByLabel("Tag key").fill("owner");
  await tags.getByLabel("Tag value").fill("ana");
  await tags.getByRole("button", { name: "Add tag" }).click();
  await expect(tags.getByTestId("tag").filter({ hasText: "owner=ana" })).toBeVisible();
  await tags.getByRole("button", { name: "Remove tag team" }).click();
  await expect(tags.getByTestId("tag").filter({ hasText: "team=" })).toHaveCount(0);
  const model = (await s.get<{ registered_model: { description: string; tags?: { key: string; value: string }[] } }>(`${API}/registered-models/get?name=${seed.model}`)).registered_model;
  expect(model.description).toBe("Iris classifier, retrained weekly");
  expect(model.tags).toEqual([{ key: "owner", value: "ana" }]);
  await shot(page, "models-detail");
  await setTheme(page, "dark");
  await expectDrawn(page, "perf-chart");
  await shot(page, "models-detail-dark");
  await setTheme(page, "light");
});

test("version page: run link, URIs with copy buttons, snippet, files, description and tags", async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 1100 });
  await page.goto(`/models/${other.model}/versions/2`);
  await expect(page.getByTestId("model-version-page")).toBeVisible();
  const uris = page.getByTestId("model-uri");
  await expect(uris).toHaveCount(3);
  await expect(uris.nth(0)).toContainText(`models:/${other.model}/2`);
  await expect(uris.nth(1)).toContainText(`models:/${other.model}@champion`);
  await expect(uris.nth(2)).toContainText(`models:/${other.model}/Production`);
  await uris.nth(0).getByRole("button", { name: /Copy/ }).click();
  await expect(uris.nth(0).getByRole("button", { name: /Copy/ })).toHaveText("Copied");
  await expect(page.getByTestId("python-snippet")).toContainText(`mlflow.pyfunc.load_model("models:/${other.model}@champion")`);
  const files = page.getByTestId("version-file");
  await expect(files.filter({ hasText: "MLmodel" })).toBeVisible();
  await expect(files.filter({ hasText: "requirements.txt" })).toBeVisible();
  const href = await files.filter({ hasText: "MLmodel" }).getByRole("link").getAttribute("href");
  const file = await page.request.get(href!);
  expect(await file.text()).toContain("python_function");

  const desc = page.getByTestId("version-description");
  await desc.getByRole("button", { name: "Edit description" }).click();
  await desc.getByLabel("Description").fill("Best F1 so far");
  await desc.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("version-description-text")).toHaveText("Best F1 so far");
  const tags = page.getByTestId("version-tags");
  await tags.getByLabel("Tag key").fill("validated");
  await tags.getByLabel("Tag value").fill("yes");
  await tags.getByRole("button", { name: "Add tag" }).click();
  await expect(tags.getByTestId("tag").filter({ hasText: "validated=yes" })).toBeVisible();
  const v = await version(other.model, "2");
  expect(v.description).toBe("Best F1 so far");
  expect(v.tags).toEqual([{ key: "validated", value: "yes" }]);
  await shot(page, "model-version");

  await page.getByTestId("version-run-link").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${other.runs[1]}$`));
});
