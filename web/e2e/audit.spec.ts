// The change-event log in the UI: the history panels ("who changed this") of a run, an
// experiment, a registered model and a version, and the admin Audit page (filters, paging,
// verify, export), against the shared server (access control off: everyone is the local admin).
import { readFileSync } from "node:fs";
import { test, expect } from "./fixtures";
import { fromTop, tabTo } from "./keyboard";
import { setTheme, shot } from "./shots";

interface AuditEvent {
  id: number;
  action: string;
  entity_id: string;
  actor: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

async function auditEvents(url: string, query: string): Promise<AuditEvent[]> {
  const r = await fetch(`${url}/api/v1/audit?${query}`);
  expect(r.status).toBe(200);
  return ((await r.json()) as { events: AuditEvent[] }).events;
}

test("a run's and an experiment's history, paged", async ({ page, api, baseURL }) => {
  const eid = await api.createExperiment(`audit-exp-${Date.now()}`);
  // the client claims a user (MLflow's user_id): kept beside the real actor, not trusted
  const made = await api.post<{ run: { info: { run_id: string } } }>("/runs/create", { experiment_id: eid, run_name: "audited-run", start_time: Date.now(), user_id: "claimed-alice" });
  const runId = made.run.info.run_id;
  await api.logBatch(runId, { lr: 0.1 }, { loss: 0.5 }, { team: "vision" });
  await api.logBatch(runId, {}, {}, { team: "nlp" }); // the team tag changes: before → after
  for (let i = 0; i < 22; i++) await api.logBatch(runId, {}, { [`m${i}`]: i }); // more than a page
  await api.finish(runId);
  const recorded = await auditEvents(baseURL!, `entity_type=run&entity_id=${runId}&max_results=100`);
  expect(recorded.length).toBe(26);

  await page.goto(`/runs/${runId}`);
  const panel = page.getByTestId("history-panel");
  const entries = panel.getByTestId("history-entry");
  await expect(entries).toHaveCount(20); // the first page, newest first
  await expect(entries.first()).toHaveAttribute("data-action", "run.update");
  await expect(entries.first().getByTestId("event-diff")).toContainText(/status\s*RUNNING\s*→\s*FINISHED/);
  await expect(entries.first().getByTestId("event-actor")).toContainText("local");
  await expect(entries.first().getByTestId("event-actor")).toContainText("as claimed-alice");
  // the request id is on the time, for hover and keyboard focus
  await expect(entries.first().getByTestId("event-time")).toHaveAttribute("title", /request [0-9a-f-]{8,}/);
  await tabTo(page, panel.getByTestId("history-more"));
  await page.keyboard.press("Enter");
  await expect(entries).toHaveCount(26);
  await expect(panel.getByTestId("history-more")).toHaveCount(0);
  const changed = entries.filter({ has: page.locator('[data-key="tags.team"] del') });
  await expect(changed).toHaveCount(1);
  await expect(changed.locator('[data-key="tags.team"]')).toContainText(/vision\s*→\s*nlp/);
  await expect(entries.last()).toHaveAttribute("data-action", "run.create");

  // the experiment's panel: its own events and its runs', each naming its entity
  await page.goto(`/experiments/${eid}`);
  await page.getByTestId("history-toggle").click();
  const expPanel = page.getByTestId("history-panel");
  await expect(expPanel.getByTestId("history-entry").first()).toBeVisible();
  await expect(expPanel.getByRole("link", { name: `run ${runId.slice(0, 8)}` }).first()).toHaveAttribute("href", `/runs/${runId}`);
  await expPanel.getByTestId("history-more").click();
  await expect(expPanel.getByTestId("history-entry").last()).toHaveAttribute("data-action", "experiment.create");

  // a short life of a run for the docs' picture: made, logged, retagged, a tag removed, ended
  const short = (await api.post<{ run: { info: { run_id: string } } }>("/runs/create", { experiment_id: eid, run_name: "resnet-50", start_time: Date.now(), user_id: "alice" })).run.info.run_id;
  await api.logBatch(short, { lr: 0.001, epochs: 30 }, { loss: 0.31, acc: 0.91 }, { team: "vision", candidate: "yes" });
  await api.logBatch(short, {}, {}, { team: "platform" });
  await api.post("/runs/delete-tag", { run_id: short, key: "candidate" });
  await api.finish(short);
  await page.goto(`/runs/${short}`);
  const shortPanel = page.getByTestId("history-panel");
  await expect(shortPanel.getByTestId("history-entry")).toHaveCount(5);
  await expect(shortPanel.locator('[data-key="tags.candidate"] del')).toHaveText("yes");
  await setTheme(page, "light");
  await page.locator("#history").scrollIntoViewIfNeeded();
  await shot(page, "audit-run-history", page.locator("#history"));
});

test("the Audit page: filter by keyboard, page, verify the chain, export", async ({ page, api, baseURL }) => {
  const eid = await api.createExperiment(`audit-page-${Date.now()}`);
  const runId = await api.createRun(eid, "filtered-run");
  await api.logBatch(runId, { depth: 4 }, {}, { stage: "dev" });
  await api.finish(runId, "FAILED");

  await page.goto("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
  await expect(page).toHaveURL(/\/audit$/);
  await expect(page.getByTestId("audit-row").first()).toBeVisible();

  // filter by entity id and action with the keyboard only
  await fromTop(page);
  await tabTo(page, page.getByTestId("audit-filter-action"));
  await page.keyboard.type("run.update");
  await tabTo(page, page.getByTestId("audit-filter-entity_id"));
  await page.keyboard.type(runId);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`action=run\\.update&entity_id=${runId}`));
  const rows = page.getByTestId("audit-row");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(/status\s*RUNNING\s*→\s*FAILED/);
  await expect(rows.first().getByRole("link", { name: `run ${runId.slice(0, 8)}` })).toBeVisible();

  // the export link carries the filters; the CSV holds the one event
  const download = page.waitForEvent("download");
  await page.getByTestId("audit-export-csv").click();
  const csv = readFileSync((await (await download).path())!, "utf8");
  expect(csv).toContain(runId);
  expect(csv).toContain("run.update");
  expect(csv.trim().split("\n").length).toBe(2); // the header and the event
  await expect(page.getByTestId("audit-export-jsonl")).toHaveAttribute("href", `/api/v1/audit/export?format=jsonl&action=run.update&entity_id=${runId}`);

  // verify the chain (a button reached by keyboard) and compare with the API's answer
  await tabTo(page, page.getByTestId("audit-verify"), 120, true);
  await page.keyboard.press("Enter");
  const result = page.getByTestId("audit-verify-result");
  await expect(result).toHaveAttribute("data-ok", "true");
  const verified = (await (await fetch(`${baseURL}/api/v1/audit/verify`)).json()) as { ok: boolean; head_hash: string };
  expect(verified.ok).toBe(true);
  await expect(result).toContainText("Chain intact");

  // a time range that holds nothing, then clearing: everything again, paged by 100
  await page.goto(`/audit?entity_id=${runId}&until=2000-01-01`);
  await expect(page.getByTestId("audit-empty")).toContainText("No event matches");
  await page.goto(`/audit?entity_id=${runId}&since=${new Date().getFullYear() - 1}-01-01`);
  await expect(rows).toHaveCount(3);
  await setTheme(page, "light");
  await page.getByTestId("audit-verify").click();
  await expect(result).toBeVisible();
  await shot(page, "audit-page");
  await setTheme(page, "dark");
  await shot(page, "audit-page-dark");
  await setTheme(page, "light");
});

test("a registered model's and a version's history", async ({ page, api, baseURL }) => {
  const name = `audited-model-${Date.now()}`;
  await api.post("/registered-models/create", { name });
  const source = await api.createRun(await api.createExperiment(`${name}-runs`), "trained");
  await api.post("/model-versions/create", { name, source: `runs:/${source}/model`, run_id: source });
  await api.post("/model-versions/set-tag", { name, version: "1", key: "validated", value: "yes" });
  await api.post("/model-versions/transition-stage", { name, version: "1", stage: "Staging", archive_existing_versions: false });
  const events = await auditEvents(baseURL!, `model_name=${encodeURIComponent(name)}`);
  expect(events.map((e) => e.action)).toContain("model_version.transition_stage");

  await page.goto(`/models/${encodeURIComponent(name)}/versions/1`);
  const panel = page.getByTestId("history-panel");
  const entries = panel.getByTestId("history-entry");
  await expect(entries.first()).toHaveAttribute("data-action", "model_version.transition_stage");
  await expect(entries.first().getByTestId("event-diff")).toContainText(/None\s*→\s*Staging/);
  await expect(entries.filter({ hasText: "validated" }).first()).toBeVisible();

  await page.goto(`/models/${encodeURIComponent(name)}`);
  const modelPanel = page.getByTestId("history-panel");
  await expect(modelPanel.getByTestId("history-entry").last()).toHaveAttribute("data-action", "registered_model.create");
  await expect(modelPanel.getByRole("link", { name: `model version ${name}/1` }).first()).toHaveAttribute("href", `/models/${encodeURIComponent(name)}/versions/1`);
  // "Open in Audit" shows the same filter on the Audit page
  await modelPanel.getByRole("link", { name: "Open in Audit" }).click();
  await expect(page).toHaveURL(new RegExp(`/audit\\?model_name=${name}`));
  await expect(page.getByTestId("audit-filter-model_name")).toHaveValue(name);
  await expect(page.getByTestId("audit-row")).toHaveCount(events.length);
});
