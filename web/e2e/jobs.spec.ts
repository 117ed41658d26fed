// The Jobs page against the shared server (access control off: everyone is the local admin):
// jobs seeded straight into the server's store (as a webhook or alert consumer would enqueue
// them), filters, a job's detail, Cancel and Retry.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { test, expect } from "./fixtures";
import { REPO } from "./server";
import { setTheme, shot } from "./shots";

interface Seeded {
  done: number[];
  waiting: number;
  failing: number;
}

/** Enqueue jobs into the shared server's SQLite store, handing them to its queue: two no-op
 * jobs (they run), one due in an hour (to cancel) and one of a kind no worker knows (it fails
 * at once: one attempt allowed). */
function seed(): Seeded {
  const home = dirname(process.env.CAIRN_E2E_LOG!);
  const script = `
import json, sys
from cairn.jobs.engine import JobEngine
from cairn.jobs.queue import JobQueue, default_queue_uri
from cairn.store import jobs
from cairn.store.db import Database
from cairn.store.sql import now_ms
uri = sys.argv[1]
db = Database(uri); db.start()
engine = JobEngine(db, JobQueue(default_queue_uri(uri))); engine.start(work=False)
def write(c):
    done = [jobs.enqueue(c, "jobs.noop", {"sleep": 0.1, "note": "e2e"}) for _ in range(2)]
    waiting = jobs.enqueue(c, "jobs.noop", {"note": "later"}, run_after=now_ms() + 3600000)
    failing = jobs.enqueue(c, "e2e.unknown_kind", {"target": "https://hooks.example/abc"}, max_attempts=1)
    return {"done": done, "waiting": waiting, "failing": failing}
print(json.dumps(db.write(write)))
engine.stop(); db.close()
`;
  const out = execFileSync(join(REPO, ".venv", "bin", "python"), ["-c", script, `sqlite:///${join(home, "cairn.db")}`], { encoding: "utf8", env: process.env });
  return JSON.parse(out) as Seeded;
}

async function jobState(url: string, id: number): Promise<string> {
  const r = await fetch(`${url}/api/v1/jobs/${id}`);
  expect(r.status).toBe(200);
  return ((await r.json()) as { state: string }).state;
}

test("the Jobs page lists, filters, shows, cancels and retries jobs", async ({ page, baseURL }) => {
  const jobs = seed();
  await expect.poll(() => jobState(baseURL!, jobs.failing)).toBe("failed");
  for (const id of jobs.done) await expect.poll(() => jobState(baseURL!, id)).toBe("succeeded");

  await page.goto("/");
  await page.getByTestId("nav-jobs").click();
  await expect(page).toHaveURL(/\/jobs$/);
  const rows = page.getByTestId("jobs-row");
  await expect(rows.first()).toBeVisible();
  await expect(page.locator(`[data-job-id="${jobs.failing}"]`)).toHaveAttribute("data-state", "failed");
  await expect(page.locator(`[data-job-id="${jobs.waiting}"]`)).toHaveAttribute("data-state", "pending");

  // filter by state: only failed jobs, kept in the URL
  await page.getByTestId("jobs-filter-state").selectOption("failed");
  await expect(page).toHaveURL(/state=failed/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-job-id", String(jobs.failing));

  // a job's detail: its payload and error; Retry runs it again (and it fails again)
  await rows.first().getByTestId("jobs-open").click();
  const detail = page.getByTestId("job-detail");
  await expect(detail.getByTestId("job-error")).toContainText("no handler for job kind 'e2e.unknown_kind'");
  await expect(detail.getByTestId("job-payload")).toContainText("https://hooks.example/abc");
  await expect(detail.getByTestId("job-cancel")).toBeDisabled();
  await setTheme(page, "light");
  await shot(page, "jobs-page");
  await setTheme(page, "dark");
  await shot(page, "jobs-page-dark");
  await setTheme(page, "light");
  await detail.getByTestId("job-retry").click();
  await expect(detail.getByTestId("job-state")).toHaveText(/pending|running|failed/);
  await expect.poll(() => jobState(baseURL!, jobs.failing)).toBe("failed");

  // filter by kind, then cancel the job that waits for its time
  await page.getByTestId("jobs-filter-state").selectOption("");
  await page.getByTestId("jobs-filter-kind").fill("jobs.noop");
  await page.getByTestId("jobs-apply").click();
  await expect(page).toHaveURL(/kind=jobs.noop/);
  await page.locator(`[data-job-id="${jobs.waiting}"]`).getByTestId("jobs-open").click();
  await expect(detail.getByTestId("job-payload")).toContainText("later");
  await expect(detail.getByTestId("job-retry")).toBeDisabled();
  await detail.getByTestId("job-cancel").click();
  await expect(detail.getByTestId("job-state")).toHaveText("cancelled");
  await expect(page.locator(`[data-job-id="${jobs.waiting}"]`)).toHaveAttribute("data-state", "cancelled");
  expect(await jobState(baseURL!, jobs.waiting)).toBe("cancelled");

  // a finished job shows its result
  await page.locator(`[data-job-id="${jobs.done[0]}"]`).getByTestId("jobs-open").click();
  await expect(detail.getByTestId("job-result")).toContainText('"attempt": 1');
});
