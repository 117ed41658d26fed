// The home dashboard against a live `cairn server` of its own: a run in progress shows how far
// it has got and moves on as it logs, the latest runs of every experiment with their status,
// the newest model versions with stages and aliases, a promotion waiting for approval and a
// firing alert — each checked against the API that made it. The alerts consumer is run over
// the server's store as the job engine runs it (as in alerts.spec.ts).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test, expect } from "./fixtures";
import { REPO, startCairn, stopCairn, type Running } from "./server";
import { setTheme, shot } from "./shots";

let server: Running;
let running = "";
const MODEL = "contamination-detector";
const enc = encodeURIComponent;

const EVALUATE = `
import sys
from cairn.entities.events import ACTING, SYSTEM_ACTOR
from cairn.services.alert_jobs import evaluate_events
from cairn.store import events
from cairn.store.db import Database
ACTING.set(SYSTEM_ACTOR)
db = Database(sys.argv[1])
try:
    db.write(lambda c: evaluate_events(c, list(events.walk(c, 0))))
finally:
    db.close()
`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`${server.url}${path}`, { method, headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} -> ${r.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}
const mlflow = (path: string, body: unknown) => call("POST", `/api/2.0/mlflow${path}`, body);

async function logLoss(runId: string, fromStep: number, toStep: number): Promise<void> {
  const now = Date.now();
  const metrics = [];
  for (let s = fromStep; s <= toStep; s++) metrics.push({ key: "val_loss", value: Math.round((1 / (s + 2)) * 1000) / 1000, timestamp: now, step: s });
  await mlflow("/runs/log-batch", { run_id: runId, metrics });
}

test.beforeAll(async () => {
  server = await startCairn();
  const now = Date.now();
  const lims = (await mlflow("/experiments/create", { name: "lims-qc" })).experiment_id;
  const prompts = (await mlflow("/experiments/create", { name: "prompt-classifier" })).experiment_id;
  const sources: string[] = [];
  for (const [i, [eid, name, status]] of ([
    [lims, "baseline", "FINISHED"],
    [prompts, "distilbert-lr-3e-5", "FINISHED"],
    [prompts, "distilbert-lr-1e-4", "FAILED"],
    [lims, "random-forest-300", "FINISHED"],
  ] as const).entries()) {
    const start = now - (5 - i) * 3_600_000;
    const run = (await mlflow("/runs/create", { experiment_id: eid, run_name: name, start_time: start })).run.info.run_id;
    await mlflow("/runs/log-batch", { run_id: run, metrics: [{ key: "test_f1", value: 0.8 + i / 50, timestamp: start, step: 0 }], params: [], tags: [] });
    await mlflow("/runs/update", { run_id: run, status, end_time: start + 600_000 });
    sources.push(run);
  }
  running = (await mlflow("/runs/create", { experiment_id: lims, run_name: "nightly-train", start_time: now - 12 * 60_000, tags: [{ key: "team", value: "lims" }] })).run.info.run_id;
  await mlflow("/runs/log-batch", { run_id: running, params: [{ key: "epochs", value: "10" }], metrics: [], tags: [] });
  await logLoss(running, 0, 4);

  await mlflow("/registered-models/create", { name: MODEL });
  for (const run of [sources[0], sources[3]]) await mlflow("/model-versions/create", { name: MODEL, source: `runs:/${run}/model`, run_id: run });
  await mlflow("/model-versions/transition-stage", { name: MODEL, version: "1", stage: "Production", archive_existing_versions: false });
  await mlflow("/registered-models/alias", { name: MODEL, alias: "challenger", version: "2" });
  await call("PUT", `/api/v1/models/${enc(MODEL)}/promotion-policy`, { stages: ["Production"], aliases: [], required_approvals: 1, approver_role: null, evidence: [] });
  await call("POST", `/api/v1/models/${enc(MODEL)}/versions/2/requests`, { stage: "Production", archive_existing_versions: true, comment: "beats v1 on November's samples" });

  await call("POST", "/api/v1/alerts/rules", { name: "gradients exploding", kind: "threshold", experiment_id: lims, metric: "grad_norm", op: ">", value: 10 });
  await mlflow("/runs/log-metric", { run_id: running, key: "grad_norm", value: 14.2, timestamp: Date.now() - 1000, step: 4 });
  execFileSync(join(REPO, ".venv", "bin", "python"), ["-c", EVALUATE, `sqlite:///${join(server.home, "cairn.db")}`], { timeout: 60_000, stdio: "pipe" });
});

test.afterAll(async () => {
  if (server) await stopCairn(server);
});

test("the home dashboard shows live progress, recent runs, new versions, a waiting request and a firing alert", async ({ page }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${server.url}/models`);
  await page.getByRole("link", { name: "Cairn home" }).click(); // the logo leads home too
  await expect(page).toHaveURL(`${server.url}/home`);
  await page.goto(`${server.url}/`);
  await page.getByTestId("nav-home").click();
  await expect(page).toHaveURL(`${server.url}/home`);

  const live = page.getByTestId("running-run");
  await expect(live).toHaveCount(1);
  await expect(live).toContainText("nightly-train");
  await expect(live).toContainText("lims-qc");
  await expect(live.getByTestId("running-progress")).toContainText("step 5 of 10");
  await expect(live.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "50");

  const recent = page.getByTestId("recent-run");
  const api = await mlflow("/runs/search", { experiment_ids: ["1", "2"], order_by: ["attributes.start_time DESC"], max_results: 12 });
  expect(api.runs).toHaveLength(5);
  await expect(recent).toHaveCount(5);
  for (const [i, r] of api.runs.entries()) {
    await expect(recent.nth(i)).toContainText(r.info.run_name);
    await expect(recent.nth(i).locator(".badge")).toHaveText(r.info.status.toLowerCase());
  }
  await expect(recent.nth(2)).toContainText("prompt-classifier");

  const versions = page.getByTestId("home-version");
  await expect(versions).toHaveCount(2);
  await expect(versions.first()).toContainText(`${MODEL} v2`);
  await expect(versions.first()).toContainText("@challenger");
  await expect(versions.nth(1)).toContainText("Production");

  const pending = await call("GET", "/api/v1/approval-requests?state=pending");
  expect(pending.requests).toHaveLength(1);
  await expect(page.getByTestId("home-request")).toHaveCount(1);
  await expect(page.getByTestId("home-request")).toContainText(`${MODEL} v2 → stage Production`);

  const firing = await call("GET", "/api/v1/alerts?state=firing");
  expect(firing.alerts).toHaveLength(1);
  await expect(page.getByTestId("home-alert")).toContainText("gradients exploding");
  await expect(page.getByTestId("home-evals")).toContainText("No evaluation jobs yet.");
  await setTheme(page, "light");
  await shot(page, "home-dashboard-1440");

  // the run goes on: the card follows without a reload
  await logLoss(running, 5, 7);
  await expect(live.getByTestId("running-progress")).toContainText("step 8 of 10", { timeout: 12_000 });
  await expect(live.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "80");
  // and when it ends, it leaves the card and shows as finished among the recent runs
  await mlflow("/runs/update", { run_id: running, status: "FINISHED", end_time: Date.now() });
  await expect(page.getByTestId("home-running")).toContainText("No run is running.", { timeout: 12_000 });
  await page.reload();
  await expect(recent.first()).toContainText("nightly-train");
  await expect(recent.first().locator(".badge")).toHaveText("finished");

  await page.setViewportSize({ width: 1280, height: 720 });
  await shot(page, "home-dashboard-1280");
  await page.getByTestId("home-version").first().getByRole("link").first().click();
  await expect(page).toHaveURL(`${server.url}/models/${MODEL}/versions/2`);
});
