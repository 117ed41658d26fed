// Promotion approvals in the UI against a live `cairn server --auth` of its own: a manager sets
// the policy, a requester asks for a promotion, an approver approves or rejects, the requester
// cancels. Every action is taken with the keyboard only and then checked through the API.
import type { Page } from "@playwright/test";
import { test, expect } from "./fixtures";
import { fromTop, tabTo } from "./keyboard";
import { startCairn, stopCairn, type Running } from "./server";
import { setTheme, shot } from "./shots";

const ADMIN = "admin";
const ADMIN_PW = "admin-password-e2e";
const REQUESTER = "dana";
const REQUESTER_PW = "dana-password-e2e";
const APPROVER = "erin";
const APPROVER_PW = "erin-password-e2e";
const MODEL = "fraud-detector";
const enc = encodeURIComponent;

let server: Running;
const runs: Record<string, string> = {}; // version -> its source run

function headers(user = ADMIN, password = ADMIN_PW): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`, "Content-Type": "application/json" };
}

/** A call to the server as the admin (or `user`); the answer's JSON, failing loudly. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(method: string, path: string, body?: unknown, user?: [string, string]): Promise<any> {
  const r = await fetch(`${server.url}${path}`, { method, headers: headers(...(user ?? [ADMIN, ADMIN_PW])), body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} -> ${r.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

const mlflow = (path: string, body: unknown) => call("POST", `/api/2.0/mlflow${path}`, body);
const versionStage = async (v: string) => (await call("GET", `/api/2.0/mlflow/model-versions/get?name=${enc(MODEL)}&version=${v}`)).model_version.current_stage as string;

test.use({ allowHttpErrors: [401, 403] });

test.beforeAll(async () => {
  server = await startCairn({ args: ["--auth"], env: { CAIRN_ADMIN_USERNAME: ADMIN, CAIRN_ADMIN_PASSWORD: ADMIN_PW } });
  for (const [username, password] of [
    [REQUESTER, REQUESTER_PW],
    [APPROVER, APPROVER_PW],
  ]) {
    await call("POST", "/api/v1/users", { username, password });
  }
  await mlflow("/registered-models/create", { name: MODEL, description: "Scores card payments" });
  const { experiment_id } = await mlflow("/experiments/create", { name: "fraud-training" });
  for (const v of ["1", "2"]) {
    const run = (await mlflow("/runs/create", { experiment_id, run_name: `train-${v}`, start_time: Date.now() })).run.info.run_id;
    await mlflow("/model-versions/create", { name: MODEL, source: `runs:/${run}/model`, run_id: run });
    await mlflow("/runs/set-tag", { run_id: run, key: "reviewed", value: "yes" }); // the evidence: a tag of the source run
    runs[v] = run;
  }
  await call("PUT", `/api/v1/models/${enc(MODEL)}/permissions/${REQUESTER}`, { permission: "EDIT" });
  await call("PUT", `/api/v1/models/${enc(MODEL)}/permissions/${APPROVER}`, { permission: "MANAGE" });
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

async function signOut(page: Page) {
  await page.getByTestId("user-menu").click();
  await page.getByTestId("menu-sign-out").click();
  await expect(page).toHaveURL(/\/login$/);
}

/** The requester asks for `target` on a version from its page, by keyboard; the answer's text. */
async function requestByKeyboard(page: Page, version: string, target: { stage: string } | { alias: string }, comment: string) {
  await page.goto(`${server.url}/models/${enc(MODEL)}/versions/${version}`);
  const form = page.getByTestId("request-promotion");
  await fromTop(page);
  if ("alias" in target) {
    await tabTo(page, form.getByTestId("promote-kind-stage"));
    await page.keyboard.press("ArrowRight"); // the radio group: stage → alias
    await expect(form.getByTestId("promote-kind-alias")).toBeChecked();
    await tabTo(page, form.getByTestId("promote-alias"));
    await page.keyboard.type(target.alias);
  } else {
    const select = form.getByTestId("promote-stage");
    await tabTo(page, select);
    if ((await select.inputValue()) !== target.stage) await page.keyboard.type(target.stage); // type-ahead in the focused select
    await expect(select).toHaveValue(target.stage);
  }
  await tabTo(page, form.getByTestId("promote-comment"));
  await page.keyboard.type(comment);
  await tabTo(page, form.getByTestId("promote-submit"));
  await page.keyboard.press("Enter");
  await expect(form.getByTestId("promote-result")).toBeVisible();
  return (await form.getByTestId("promote-result").textContent()) ?? "";
}

test("a manager sets the policy, a requester asks, an approver approves: all by keyboard", async ({ page }) => {
  // the manager writes the policy
  await signIn(page, APPROVER, APPROVER_PW);
  await page.goto(`${server.url}/models/${enc(MODEL)}`);
  const policy = page.getByTestId("policy-card");
  await expect(policy.getByTestId("policy-summary")).toContainText("No policy");
  await fromTop(page);
  await tabTo(page, policy.getByTestId("policy-edit"));
  await page.keyboard.press("Enter");
  await expect(policy.getByTestId("policy-stage-Production")).toBeChecked(); // a new policy guards Production
  await tabTo(page, policy.getByTestId("policy-evidence"));
  await page.keyboard.type("tag reviewed = yes");
  await tabTo(page, policy.getByTestId("policy-save"));
  await page.keyboard.press("Enter");
  await expect(policy.getByTestId("policy-summary")).toContainText("Moving a version to stage Production needs 1 approval from managers of this model; evidence: tag reviewed = yes.");
  const saved = await call("GET", `/api/v1/models/${enc(MODEL)}/promotion-policy`);
  expect(saved.stages).toEqual(["Production"]);
  expect(saved.required_approvals).toBe(1);
  expect(saved.evidence).toEqual([{ kind: "tag", key: "reviewed", value: "yes" }]);
  await signOut(page);

  // the requester asks for Production; they may not approve their own request
  await signIn(page, REQUESTER, REQUESTER_PW);
  expect(await requestByKeyboard(page, "1", { stage: "Production" }, "Passed the shadow test")).toMatch(/Request #\d+ is waiting for 1 approval/);
  const pending = await call("GET", `/api/v1/approval-requests?state=pending&model_name=${enc(MODEL)}`);
  expect(pending.requests).toHaveLength(1);
  const asked = pending.requests[0];
  expect(asked).toMatchObject({ version: "1", target: { stage: "Production" }, requested_by: REQUESTER, state: "pending", comment: "Passed the shadow test" });
  await page.goto(`${server.url}/models/${enc(MODEL)}`);
  const own = page.locator(`[data-testid="request-card"][data-request-id="${asked.id}"]`);
  await expect(own.getByTestId("request-waiting")).toContainText("you cannot approve your own request");
  await expect(own.getByTestId("request-approve")).toHaveCount(0);
  await expect(own.getByTestId("request-cancel")).toBeVisible();
  await expect(page.getByTestId("policy-edit")).toHaveCount(0); // EDIT does not manage the policy
  await signOut(page);

  // the approver finds it in the Requests list and approves it
  await signIn(page, APPROVER, APPROVER_PW);
  await fromTop(page);
  await tabTo(page, page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Requests" }));
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/requests$/);
  const card = page.locator(`[data-testid="request-card"][data-request-id="${asked.id}"]`);
  await expect(card.getByTestId("request-evidence")).toContainText("reviewed");
  await expect(card.getByTestId("request-evidence").locator("li").first()).toHaveAttribute("data-ok", "true");
  await setTheme(page, "light");
  await shot(page, "approvals-requests");
  await tabTo(page, card.getByTestId("request-comment"));
  await page.keyboard.type("Shadow metrics hold up");
  await page.keyboard.press("Tab");
  await expect(card.getByTestId("request-approve")).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(card).toHaveCount(0); // no longer pending
  const approved = await call("GET", `/api/v1/approval-requests/${asked.id}`);
  expect(approved.state).toBe("approved");
  expect(approved.approvals).toEqual([expect.objectContaining({ actor: APPROVER, comment: "Shadow metrics hold up" })]);
  expect(await versionStage("1")).toBe("Production");

  // the model's history tells the story: the request, the approval with its comment, the move
  await page.goto(`${server.url}/models/${enc(MODEL)}`);
  const history = page.getByTestId("history-panel");
  await expect(history.getByTestId("history-entry").filter({ hasText: "Shadow metrics hold up" }).getByTestId("event-actor")).toContainText(APPROVER);
  await expect(history.getByTestId("history-entry").filter({ hasText: "Passed the shadow test" }).getByTestId("event-actor")).toContainText(REQUESTER);
  await expect(history.locator('[data-action="model_version.transition_stage"]').first()).toBeVisible();
  await shot(page, "approvals-model", undefined, { fullPage: true });
  await signOut(page);
});

const POLICY = { stages: ["Production"], aliases: [], required_approvals: 1, approver_role: null, evidence: [{ kind: "tag", key: "reviewed", value: "yes" }] };

test("an approver rejects by keyboard, an unguarded alias moves at once, a requester cancels", async ({ page }) => {
  await call("PUT", `/api/v1/models/${enc(MODEL)}/promotion-policy`, POLICY); // as the first test left it
  await signIn(page, REQUESTER, REQUESTER_PW);
  expect(await requestByKeyboard(page, "2", { stage: "Production" }, "Retrained on November")).toMatch(/Request #\d+ is waiting/);
  const [toReject] = (await call("GET", `/api/v1/approval-requests?state=pending&model_name=${enc(MODEL)}`)).requests;
  // an alias the policy does not name needs no approval
  expect(await requestByKeyboard(page, "2", { alias: "challenger" }, "for the A/B test")).toContain("No approval needed");
  const model = await call("GET", `/api/2.0/mlflow/registered-models/get?name=${enc(MODEL)}`);
  expect(model.registered_model.aliases).toEqual([{ alias: "challenger", version: "2" }]);
  await signOut(page);

  // meanwhile the evidence changes under the request: the approver is told
  await mlflow("/runs/set-tag", { run_id: runs["2"], key: "reviewed", value: "disputed" });

  await signIn(page, APPROVER, APPROVER_PW);
  await page.goto(`${server.url}/models/${enc(MODEL)}`);
  const card = page.locator(`[data-testid="request-card"][data-request-id="${toReject.id}"]`);
  await expect(card.getByTestId("request-approve")).toBeVisible();
  await expect(card.getByTestId("request-changes")).toContainText("reviewed changed from yes to disputed");
  await expect(card.getByTestId("request-evidence").locator("li").first()).toHaveAttribute("data-ok", "false");
  await setTheme(page, "light");
  await shot(page, "approvals-pending", page.getByTestId("model-approvals"));
  await fromTop(page);
  await tabTo(page, card.getByTestId("request-comment"));
  await page.keyboard.type("Recall dropped on the holdout");
  await tabTo(page, card.getByTestId("request-reject"));
  await page.keyboard.press("Enter");
  await expect(card).toHaveCount(0);
  const rejected = await call("GET", `/api/v1/approval-requests/${toReject.id}`);
  expect(rejected).toMatchObject({ state: "rejected", decided_by: APPROVER, decision_comment: "Recall dropped on the holdout" });
  expect(await versionStage("2")).toBe("None");
  await mlflow("/runs/set-tag", { run_id: runs["2"], key: "reviewed", value: "yes" }); // reviewed again
  // the Requests page, filtered by state, lists it as rejected with the decision
  await page.goto(`${server.url}/requests?state=rejected`);
  await expect(page.locator(`[data-testid="request-card"][data-request-id="${toReject.id}"]`).getByTestId("request-decision")).toContainText("Recall dropped on the holdout");
  await signOut(page);

  // the requester asks again and thinks better of it
  await signIn(page, REQUESTER, REQUESTER_PW);
  await requestByKeyboard(page, "2", { stage: "Production" }, "Second try");
  const [again] = (await call("GET", `/api/v1/approval-requests?state=pending&model_name=${enc(MODEL)}`)).requests;
  await page.goto(`${server.url}/requests`);
  const mine = page.locator(`[data-testid="request-card"][data-request-id="${again.id}"]`);
  await fromTop(page);
  await tabTo(page, mine.getByTestId("request-cancel"));
  await page.keyboard.press("Enter");
  await expect(mine).toHaveCount(0);
  expect((await call("GET", `/api/v1/approval-requests/${again.id}`)).state).toBe("cancelled");
});

test("a manager rolls Production back by keyboard: under the policy it is a request", async ({ page }) => {
  await call("PUT", `/api/v1/models/${enc(MODEL)}/promotion-policy`, POLICY);
  // the admin moves without asking: version 1, then version 2 into Production
  for (const version of ["1", "2"]) await mlflow("/model-versions/transition-stage", { name: MODEL, version, stage: "Production", archive_existing_versions: true });
  expect(await versionStage("2")).toBe("Production");

  await signIn(page, APPROVER, APPROVER_PW);
  await page.goto(`${server.url}/models/${enc(MODEL)}`);
  const card = page.getByTestId("rollback-card");
  await fromTop(page);
  await tabTo(page, card.getByTestId("rollback-comment"));
  await page.keyboard.type("Version 2 alerts on every payment");
  await tabTo(page, card.getByTestId("rollback-submit"));
  await page.keyboard.press("Enter");
  await expect(card.getByTestId("rollback-result")).toContainText(/Request #\d+ is waiting for approval/);
  const id = /#(\d+)/.exec((await card.getByTestId("rollback-result").textContent())!)![1];
  const asked = await call("GET", `/api/v1/approval-requests/${id}`);
  expect(asked).toMatchObject({ version: "1", target: { stage: "Production" }, requested_by: APPROVER, state: "pending" });
  expect(await versionStage("2")).toBe("Production"); // nothing moved yet
  await expect(page.locator(`[data-testid="request-card"][data-request-id="${id}"]`)).toContainText("version 1");
});
