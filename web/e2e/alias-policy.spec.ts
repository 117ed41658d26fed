// The alias policy on the model page against a live `cairn server --auth` of its own: a manager
// adds one (latest on, best by test_f1), sees its summary, edits it and is told what is wrong;
// a user who may only edit the model does not see the card. Checked through the API.
import type { Page } from "@playwright/test";
import { test, expect } from "./fixtures";
import { startCairn, stopCairn, type Running } from "./server";
import { setTheme, shot } from "./shots";

const ADMIN = "admin";
const ADMIN_PW = "admin-password-e2e";
const MANAGER = "mara";
const MANAGER_PW = "mara-password-e2e";
const EDITOR = "eli";
const EDITOR_PW = "eli-password-e2e";
const MODEL = "churn-scorer";
const enc = encodeURIComponent;

let server: Running;

function headers(user = ADMIN, password = ADMIN_PW): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`, "Content-Type": "application/json" };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`${server.url}${path}`, { method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} -> ${r.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

const mlflow = (path: string, body: unknown) => call("POST", `/api/2.0/mlflow${path}`, body);

test.use({ allowHttpErrors: [401, 403] });

test.beforeAll(async () => {
  server = await startCairn({ args: ["--auth"], env: { CAIRN_ADMIN_USERNAME: ADMIN, CAIRN_ADMIN_PASSWORD: ADMIN_PW } });
  for (const [username, password] of [
    [MANAGER, MANAGER_PW],
    [EDITOR, EDITOR_PW],
  ]) {
    await call("POST", "/api/v1/users", { username, password });
  }
  await mlflow("/registered-models/create", { name: MODEL, description: "Scores customer churn" });
  const { experiment_id } = await mlflow("/experiments/create", { name: "churn-training" });
  for (const f1 of [0.81, 0.9]) {
    const run = (await mlflow("/runs/create", { experiment_id, start_time: Date.now() })).run.info.run_id;
    await mlflow("/runs/log-metric", { run_id: run, key: "test_f1", value: f1, timestamp: Date.now(), step: 0 });
    await mlflow("/model-versions/create", { name: MODEL, source: `runs:/${run}/model`, run_id: run });
  }
  await call("PUT", `/api/v1/models/${enc(MODEL)}/permissions/${MANAGER}`, { permission: "MANAGE" });
  await call("PUT", `/api/v1/models/${enc(MODEL)}/permissions/${EDITOR}`, { permission: "EDIT" });
});

test.afterAll(async () => {
  if (server) await stopCairn(server);
});

async function signIn(page: Page, user: string, password: string) {
  await page.goto(`${server.url}/login`);
  await page.getByTestId("login-username").fill(user);
  await page.getByTestId("login-password").fill(password);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(`${server.url}/`);
}

test("a manager sets the alias policy on the model page; an editor does not see it", async ({ page }) => {
  await signIn(page, MANAGER, MANAGER_PW);
  // a model without policies: the page learns so from its policy summary, with no 404 (which
  // the browser logs as a console error)
  const failed: string[] = [];
  page.on("response", (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
  await page.goto(`${server.url}/models/${enc(MODEL)}`);
  await setTheme(page, "light");
  const card = page.getByTestId("alias-policy-card");
  await expect(card.getByTestId("alias-policy-summary")).toContainText("No alias policy");
  await expect(page.getByTestId("policy-summary")).toContainText("No policy");
  expect(failed).toEqual([]);
  await card.getByTestId("alias-policy-edit").click();
  await expect(card.getByTestId("alias-latest")).toBeChecked();
  // best on, but no metric named: told so, nothing sent
  await card.getByTestId("alias-best").check();
  await card.getByTestId("alias-policy-save").click();
  await expect(card.getByTestId("alias-policy-problems")).toContainText("Best: name the metric");
  await card.getByTestId("alias-best-metric").fill("test_f1");
  await card.getByTestId("alias-policy-save").click();
  await expect(card.getByTestId("alias-policy-summary")).toHaveText(
    /Cairn keeps @latest on the newest version and @best on the version whose run has the highest test_f1\./,
  );
  const policy = await call("GET", `/api/v1/models/${enc(MODEL)}/alias-policy`);
  expect(policy).toMatchObject({ latest: true, best_metric: "test_f1", best_direction: "max", best_alias: "best", updated_by: MANAGER });
  await shot(page, "alias-policy-card", card);

  // edit: lowest val_loss under another alias name
  await card.getByTestId("alias-policy-edit").click();
  await card.getByTestId("alias-best-metric").fill("val_loss");
  await card.getByTestId("alias-best-direction").selectOption("min");
  await card.getByTestId("alias-best-name").fill("lowest-loss");
  await shot(page, "alias-policy-form", card);
  await card.getByTestId("alias-policy-save").click();
  await expect(card.getByTestId("alias-policy-summary")).toContainText("@lowest-loss on the version whose run has the lowest val_loss");
  expect(await call("GET", `/api/v1/models/${enc(MODEL)}/alias-policy`)).toMatchObject({ best_metric: "val_loss", best_direction: "min", best_alias: "lowest-loss" });

  // remove it
  await card.getByTestId("alias-policy-edit").click();
  await card.getByTestId("alias-policy-delete").click();
  await expect(card.getByTestId("alias-policy-summary")).toContainText("No alias policy");

  // an editor sees the model, not the alias policy
  await page.getByTestId("user-menu").click();
  await page.getByTestId("menu-sign-out").click();
  await signIn(page, EDITOR, EDITOR_PW);
  await page.goto(`${server.url}/models/${enc(MODEL)}`);
  await expect(page.getByTestId("policy-card")).toBeVisible();
  await expect(page.getByTestId("alias-policy-card")).toHaveCount(0);
});
