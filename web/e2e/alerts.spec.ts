// Metric alerts in the UI against a live `cairn server` of its own: a rule is made with the
// Alerts page's form (a mistake is named first), a run's metric trips it, the header's bell
// counts the firing alert, the alert is acknowledged, and a better value resolves it. The
// alerts consumer is run over the server's store as the job engine will run it.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test, expect } from "./fixtures";
import { REPO, startCairn, stopCairn, type Running } from "./server";
import { setTheme, shot } from "./shots";

let server: Running;
let experimentId = "";
let runId = "";

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

/** Feed the server's change log to the alerts consumer (idempotent for what it judged). */
function evaluate(): void {
  execFileSync(join(REPO, ".venv", "bin", "python"), ["-c", EVALUATE, `sqlite:///${join(server.home, "cairn.db")}`], { timeout: 60_000, stdio: "pipe" });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`${server.url}${path}`, { method, headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} -> ${r.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

const logLoss = (value: number, step: number) =>
  call("POST", "/api/2.0/mlflow/runs/log-metric", { run_id: runId, key: "val_loss", value, timestamp: Date.now(), step });

test.beforeAll(async () => {
  server = await startCairn();
  experimentId = (await call("POST", "/api/2.0/mlflow/experiments/create", { name: "lims-training" })).experiment_id;
  const run = await call("POST", "/api/2.0/mlflow/runs/create", { experiment_id: experimentId, run_name: "nightly", start_time: Date.now(), tags: [{ key: "team", value: "lims" }] });
  runId = run.run.info.run_id;
  await logLoss(0.31, 0);
});

test.afterAll(async () => {
  if (server) await stopCairn(server);
});

test("a rule made on the Alerts page fires, shows on the bell, is acknowledged and resolves", async ({ page }) => {
  await page.goto(`${server.url}/alerts`);
  await expect(page.getByTestId("alerts-empty")).toBeVisible();
  await expect(page.getByTestId("alert-bell")).toHaveAttribute("aria-label", "Alerts: none firing");

  const form = page.getByTestId("rule-form");
  await form.getByTestId("rule-name").fill("validation loss high");
  await form.getByTestId("rule-target").fill(experimentId);
  await form.getByTestId("rule-filter").fill("tags.team = 'lims'");
  await form.getByTestId("rule-value").fill("0.5");
  await form.getByTestId("rule-create").click();
  await expect(form.getByTestId("rule-problem")).toHaveText("Which metric?"); // the missing field, named
  await form.getByTestId("rule-metric").fill("val_loss");
  await form.getByTestId("rule-create").click();
  const rule = page.getByTestId("rule-row");
  await expect(rule).toHaveCount(1);
  await expect(rule).toContainText("val_loss > 0.5");
  await expect(rule).toContainText(`experiment ${experimentId} where tags.team = 'lims'`);
  const rules = await call("GET", "/api/v1/alerts/rules");
  expect(rules.rules[0]).toMatchObject({ kind: "threshold", metric: "val_loss", op: ">", value: 0.5, filter: "tags.team = 'lims'" });

  await logLoss(0.92, 1);
  evaluate();
  await page.reload();
  await expect(page.getByTestId("alert-bell-count")).toHaveText("1");
  const row = page.getByTestId("alert-row");
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("firing");
  await expect(row).toContainText("val_loss = 0.92");
  await setTheme(page, "light");
  await shot(page, "alerts-page", undefined, { fullPage: true });
  await row.getByTestId("alert-ack").click();
  await expect(row).toContainText("seen by local");

  await logLoss(0.2, 2);
  evaluate();
  await page.reload();
  await expect(page.getByTestId("alerts-empty")).toBeVisible();
  await expect(page.getByTestId("alert-bell")).toHaveAttribute("aria-label", "Alerts: none firing");
  await page.getByTestId("alerts-state").selectOption("resolved");
  await expect(page.getByTestId("alert-row")).toContainText("resolved");
  const resolved = await call("GET", "/api/v1/alerts?state=resolved");
  expect(resolved.alerts).toHaveLength(1);
  expect(resolved.alerts[0].acknowledged_by).toBe("local");
});
