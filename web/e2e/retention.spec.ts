// The Retention panel of an experiment: the policy that applies, a dry run of the form's rule
// (runs behind a model version and runs tagged cairn.keep are kept and counted), saving and
// removing the experiment's own policy, and bad input refused before anything is sent.
import { test, expect } from "./fixtures";
import { setTheme, shot } from "./shots";

const DAY = 86_400_000;

test("an experiment's retention: dry run, save, remove", async ({ page, api }) => {
  const eid = await api.createExperiment(`retention-${Date.now()}`);
  const long = Date.now() - 40 * DAY;
  const old = await api.createRun(eid, "old-finished", { start: long - 1000 });
  await api.finish(old, "FINISHED", long);
  const failed = await api.createRun(eid, "old-failed", { start: long - 1000 });
  await api.finish(failed, "FAILED", long);
  const kept = await api.createRun(eid, "kept-by-tag", { start: long - 1000, tags: { "cairn.keep": "audit" } });
  await api.finish(kept, "FINISHED", long);
  const registered = await api.createRun(eid, "registered", { start: long - 1000 });
  await api.finish(registered, "FINISHED", long);
  const model = `retention-model-${Date.now()}`;
  await api.post("/registered-models/create", { name: model });
  await api.post("/model-versions/create", { name: model, source: `runs:/${registered}/model`, run_id: registered });
  const recent = await api.createRun(eid, "recent");
  await api.finish(recent);

  await page.goto(`/experiments/${eid}`);
  await page.getByTestId("retention-toggle").click();
  const panel = page.getByTestId("retention-panel");
  await expect(panel.getByTestId("retention-current")).toContainText("No retention policy applies");

  await panel.getByTestId("retention-days").fill("30");
  await panel.getByTestId("retention-dry-run").click();
  const preview = panel.getByTestId("retention-preview");
  await expect(preview).toContainText("2 runs would be deleted; kept: 1 behind model versions, 1 tagged cairn.keep");
  await expect(preview.getByTestId("retention-preview-run")).toHaveCount(2);
  await expect(preview.getByRole("link", { name: failed.slice(0, 8) })).toHaveAttribute("href", `/runs/${failed}`);

  // only failed runs: the preview goes (it described the old form), a new dry run lists one
  await panel.getByTestId("retention-status-FAILED").check();
  await expect(preview).toHaveCount(0);
  await panel.getByTestId("retention-dry-run").click();
  await expect(preview.getByTestId("retention-preview-run")).toHaveCount(1);
  await expect(preview).toContainText("failed 40 days ago");
  const run = await api.get(`/runs/get?run_id=${failed}`);
  expect(run.run.info.lifecycle_stage).toBe("active"); // a dry run changes nothing

  await panel.getByTestId("retention-save").click();
  await expect(panel.getByTestId("retention-current")).toContainText("This experiment's policy: FAILED runs that ended more than 30 days ago are deleted.");
  await panel.getByTestId("retention-dry-run").click();
  await setTheme(page, "light");
  await shot(page, "retention-panel", panel);

  // bad input: said at once, nothing sent
  await panel.getByTestId("retention-days").fill("-3");
  await expect(panel.getByRole("alert")).toContainText("Days: a whole number");
  await expect(panel.getByTestId("retention-save")).toBeDisabled();
  await expect(panel.getByTestId("retention-dry-run")).toBeDisabled();

  await panel.getByTestId("retention-remove").click();
  await expect(panel.getByTestId("retention-current")).toContainText("No retention policy applies");
  await expect(panel.getByTestId("retention-remove")).toHaveCount(0);
});
