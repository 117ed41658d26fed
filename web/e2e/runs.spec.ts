import { readFileSync } from "node:fs";
import { test, expect } from "./fixtures";
import { setTheme, shot, SHOTS } from "./shots";
import { seedProject, type Seeded } from "./seed";
import type { Page } from "@playwright/test";

let seeded: Seeded;

test.beforeAll(async () => {
  const { Api } = await import("./api");
  seeded = await seedProject(new Api(process.env.CAIRN_E2E_URL!), `runs-table-${Date.now()}`);
});

const rows = (page: Page) => page.locator("tbody tr.run-row");
// how many rows the table has (rows off screen are not in the DOM: the grid says the count)
const expectRows = (page: Page, n: number) => expect(page.getByRole("grid", { name: "Runs" })).toHaveAttribute("aria-rowcount", String(n + 1));
/** A run's row, scrolled into the DOM first: the table draws only the rows near the screen.
 * Scrolls down from the top until the row is drawn, then brings it to the middle. */
async function runRowById(page: Page, runId: string) {
  const row = page.locator(`tr[data-run-id="${runId}"]`);
  const scroller = page.getByTestId("runs-scroller");
  await expect(rows(page).first()).toBeVisible();
  await scroller.evaluate((el) => el.scrollTo(0, 0));
  await expect(page.locator('tr.run-row[data-index="0"]')).toBeAttached();
  for (let i = 0; i < 40; i++) {
    const centred = await scroller.evaluate((el, id) => {
      const tr = el.querySelector<HTMLElement>(`tr[data-run-id="${id}"]`);
      if (!tr) {
        el.scrollBy(0, el.clientHeight / 2);
        return false;
      }
      el.scrollTop += tr.getBoundingClientRect().top - el.getBoundingClientRect().top - el.clientHeight / 2;
      return true;
    }, runId);
    if (centred) break;
    await page.waitForTimeout(50);
  }
  await expect(row).toBeVisible();
  return row;
}
const cellTexts = async (page: Page, column: number) =>
  rows(page).evaluateAll((trs, col) => trs.map((tr) => (tr.children[col] as HTMLElement).innerText.trim()), column);
const headerIndex = async (page: Page, label: string) =>
  page.locator("thead th").evaluateAll((ths, l) => ths.findIndex((th) => (th as HTMLElement).innerText.replace(/[▲▼]/g, "").trim().endsWith(l)), label);

test("open an experiment: rows, statuses, durations, default columns", async ({ page }) => {
  await page.goto("/");
  await page.getByRole("link", { name: seeded.name }).click();
  await expect(page.getByRole("heading", { name: seeded.name })).toBeVisible();
  await expectRows(page, 25); // 24 + the sweep; its 4 trials are folded
  await expect(page.getByTestId("run-count")).toHaveText("29 runs");
  await expect(page.locator(".badge.FAILED").first()).toBeVisible();
  await expect(page.locator(".badge.RUNNING").first()).toBeVisible();
  await expect(page.locator("thead")).toContainText("accuracy");
  await expect(page.locator("thead")).toContainText("Started");
  await shot(page, "runs-table");
  // Duration is one click away in the column chooser (the defaults leave room for six metrics)
  await page.goto(`/experiments/${seeded.experimentId}?cols=attributes.status,attributes.duration,metrics.accuracy`);
  await expectRows(page, 25);
  const durIdx = await headerIndex(page, "Duration");
  const durations = await cellTexts(page, durIdx);
  expect(durations.some((d) => /^\d+(\.\d)?s$|^\d+m \d\ds$/.test(d))).toBe(true);
  if (SHOTS) {
    await page.goto(`/experiments/${seeded.experimentId}`);
    await expectRows(page, 25);
    await setTheme(page, "dark");
    await shot(page, "runs-table-dark");
    await setTheme(page, "light");
  }
});

test("filter with key completion; the filter is in the URL", async ({ page }) => {
  await page.goto(`/experiments/${seeded.experimentId}`);
  const box = page.getByLabel("Filter runs");
  await box.click();
  await box.pressSequentially("metrics.acc");
  await expect(page.getByRole("listbox", { name: "Key suggestions" })).toContainText("accuracy");
  await shot(page, "runs-filter-completion");
  await box.press("Enter"); // takes the suggestion
  await expect(box).toHaveValue("metrics.accuracy ");
  await box.pressSequentially("> 0.95");
  await box.press("Enter"); // applies
  await expect(page).toHaveURL(/q=metrics.accuracy/);
  const accIdx = await headerIndex(page, "accuracy");
  await expect(page.getByTestId("runs-scroller")).toHaveAttribute("aria-busy", "false");
  await expect.poll(async () => (await cellTexts(page, accIdx)).length).toBeLessThan(25);
  const values = (await cellTexts(page, accIdx)).map(Number);
  expect(values.every((v) => v > 0.95)).toBe(true);
  await page.reload();
  await expect(page.getByLabel("Filter runs")).toHaveValue("metrics.accuracy > 0.95");
  await page.getByRole("button", { name: "Clear" }).click();
  await expectRows(page, 25);

  await box.fill("params.model = 'nothing-like-this'");
  await box.press("Enter");
  await expect(page.getByTestId("no-matches")).toBeVisible();
});

test.describe("a bad filter", () => {
  test.use({ allowHttpErrors: [400] });
  test("shows the server's message inline", async ({ page }) => {
    await page.goto(`/experiments/${seeded.experimentId}`);
    const box = page.getByLabel("Filter runs");
    await box.fill("metrics.accuracy >> 0.5");
    await box.press("Enter");
    const error = page.getByTestId("filter-error");
    await expect(error).toContainText("Invalid filter");
    await expect(error).toContainText("position");
    await expect(box).toHaveAttribute("aria-invalid", "true");
    await shot(page, "runs-filter-error");
    await box.fill("metrics.accuracy > 0.5");
    await box.press("Enter");
    await expect(error).toHaveCount(0);
  });
});

test("sort by a metric on the server, both ways", async ({ page }) => {
  await page.goto(`/experiments/${seeded.experimentId}`);
  await expectRows(page, 25);
  const accIdx = await headerIndex(page, "accuracy");
  await page.locator("thead th").nth(accIdx).getByRole("button").click();
  await expect(page).toHaveURL(/order=metrics.accuracy\+DESC/);
  await expect(page.locator("thead th").nth(accIdx)).toHaveAttribute("aria-sort", "descending");
  await expect(page.getByTestId("runs-scroller")).toHaveAttribute("aria-busy", "false");
  await expect.poll(async () => Number((await cellTexts(page, accIdx))[0])).toBe(0.98);
  let values = (await cellTexts(page, accIdx)).filter(Boolean).map(Number);
  expect(values).toEqual([...values].sort((a, b) => b - a));
  expect(values[0]).toBe(0.98);
  await page.locator("thead th").nth(accIdx).getByRole("button").click();
  await expect(page).toHaveURL(/order=metrics.accuracy\+ASC/);
  await expect(page.getByTestId("runs-scroller")).toHaveAttribute("aria-busy", "false");
  await expect.poll(async () => Number((await cellTexts(page, accIdx))[0])).toBe(0.8);
  values = (await cellTexts(page, accIdx)).filter(Boolean).map(Number);
  expect(values).toEqual([...values].sort((a, b) => a - b));
});

test("choose and pin columns; they survive a reload", async ({ page }) => {
  await page.goto(`/experiments/${seeded.experimentId}`);
  await page.getByRole("button", { name: /^Columns/ }).click();
  const dialog = page.getByRole("dialog", { name: "Choose columns" });
  await dialog.getByLabel("Find a column").fill("team");
  await dialog.getByRole("checkbox").first().check();
  await dialog.getByLabel("Find a column").fill("learning");
  await dialog.getByRole("checkbox").first().check();
  await dialog.getByLabel("Find a column").fill("");
  await dialog.getByRole("button", { name: "Pin f1" }).click();
  await shot(page, "runs-columns");
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(page).toHaveURL(/cols=.*tags.team/);
  await expect(page).toHaveURL(/pin=metrics.f1/);
  await page.reload();
  // Assertions that wait: after a reload the header row is rebuilt once the runs arrive.
  const headers = page.locator("thead th");
  await expect(headers.nth(2)).toContainText("f1"); // pinned: right after the run name
  await expect(headers.filter({ hasText: "team" })).toHaveCount(1);
  await expect(headers.filter({ hasText: "learning rate" })).toHaveCount(1);
  await expect(headers.nth(2)).toHaveCSS("position", "sticky");
});

test("expand a nested run", async ({ page }) => {
  await page.goto(`/experiments/${seeded.experimentId}`);
  const sweep = page.locator(`tr[data-run-id="${seeded.sweepId}"]`);
  await expect(sweep).toHaveAttribute("aria-expanded", "false");
  await sweep.getByRole("button", { name: /Expand sweep \(4 child runs\)/ }).click();
  await expect(sweep).toHaveAttribute("aria-expanded", "true");
  await expectRows(page, 29);
  const child = page.locator(`tr[data-run-id="${seeded.runIds.get("sweep-trial-0")}"]`);
  await expect(child).toHaveAttribute("aria-level", "2");
  await shot(page, "runs-table-nested");
  await sweep.getByRole("button", { name: /Collapse sweep/ }).click();
  await expectRows(page, 25);
});

test("select runs and compare", async ({ page }) => {
  await page.goto(`/experiments/${seeded.experimentId}`);
  const compare = page.getByRole("button", { name: /^Compare/ });
  await expect(compare).toBeDisabled();
  const a = seeded.runIds.get("rf-00")!;
  const b = seeded.runIds.get("gb-01")!;
  await (await runRowById(page, a)).getByRole("checkbox").check();
  await (await runRowById(page, b)).getByRole("checkbox").check();
  await expect(page).toHaveURL(new RegExp(`sel=${a}%2C${b}|sel=${a},${b}`));
  await page.reload();
  await expect(await runRowById(page, a)).toHaveAttribute("aria-selected", "true");
  await expect(compare).toHaveText("Compare (2)");
  await compare.click();
  await expect(page).toHaveURL(new RegExp(`/compare\\?runs=${a}(,|%2C)${b}$`));
});

test("keyboard: into the grid, move, open a run", async ({ page }) => {
  await page.goto(`/experiments/${seeded.experimentId}`);
  await expectRows(page, 25);
  await rows(page).first().focus();
  await page.keyboard.press("ArrowDown");
  const second = rows(page).nth(1);
  await expect(second).toBeFocused();
  const id = await second.getAttribute("data-run-id");
  await page.keyboard.press(" ");
  await expect(second).toHaveAttribute("aria-selected", "true");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/runs/${id}$`));
});

test("tab order reaches the filter, the buttons and the grid", async ({ page }) => {
  await page.goto(`/experiments/${seeded.experimentId}`);
  await expectRows(page, 25);
  const reached: string[] = [];
  for (let i = 0; i < 70; i++) { // the top bar (Requests, Audit, Jobs, Webhooks, Alerts, the bell), the head buttons (History, Retention, Insights), the insights panel, the toolbar
    await page.keyboard.press("Tab");
    reached.push(await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el ? `${el.tagName}:${el.getAttribute("aria-label") ?? el.innerText?.slice(0, 20) ?? ""}` : "";
    }));
    if (reached[reached.length - 1].startsWith("TR:")) break;
  }
  expect(reached.some((r) => r.includes("Filter runs"))).toBe(true);
  expect(reached.some((r) => r.includes("Export CSV"))).toBe(true);
  expect(reached[reached.length - 1].startsWith("TR:")).toBe(true);
});

test("export the current view as CSV", async ({ page }) => {
  await page.goto(`/experiments/${seeded.experimentId}?q=${encodeURIComponent("params.model = 'rf'")}&cols=metrics.accuracy,params.model,tags.team`);
  await expectRows(page, 8);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
  expect(download.suggestedFilename()).toBe(`${seeded.name}-runs.csv`);
  const text = readFileSync((await download.path())!, "utf8");
  const lines = text.trim().split(/\r\n/);
  expect(lines[0]).toBe("run_id,run_name,metrics.accuracy,params.model,tags.team");
  expect(lines).toHaveLength(9);
  const rf00 = lines.find((l) => l.includes(",rf-00,"))!;
  expect(rf00).toBe(`${seeded.runIds.get("rf-00")},rf-00,0.8,rf,ml`);
});

test("the first page of runs is asked for once, early, also with a filter and an order", async ({ page }) => {
  const firstPages: string[] = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/api/2.0/mlflow/runs/search") && JSON.parse(r.postData() ?? "{}").max_results === 50) firstPages.push(r.postData()!);
  });
  await page.goto(`/experiments/${seeded.experimentId}`);
  await expectRows(page, 25);
  await page.waitForTimeout(300);
  expect(firstPages).toHaveLength(1);
  firstPages.length = 0;
  const q = encodeURIComponent("params.model = 'rf'");
  await page.goto(`/experiments/${seeded.experimentId}?q=${q}&order=${encodeURIComponent("metrics.accuracy DESC")}`);
  await expectRows(page, 8);
  await page.waitForTimeout(300);
  expect(firstPages).toHaveLength(1);
  expect(JSON.parse(firstPages[0])).toMatchObject({ filter: "params.model = 'rf'", order_by: ["metrics.accuracy DESC"] });
});

test("delete selected runs, show them with the deleted ones, restore one", async ({ page, api }) => {
  const experimentId = await api.createExperiment(`runs-trash-${Date.now()}`);
  const ids: string[] = [];
  for (const name of ["keep", "drop-a", "drop-b"]) ids.push(await api.createRun(experimentId, name));
  const [keep, dropA, dropB] = ids;
  await page.goto(`/experiments/${experimentId}`);
  await expectRows(page, 3);
  await page.locator(`tr[data-run-id="${dropA}"]`).getByRole("checkbox").check();
  await page.locator(`tr[data-run-id="${dropB}"]`).getByRole("checkbox").check();
  await page.getByRole("button", { name: "Delete (2)" }).click();
  // nothing happens until the delete is confirmed
  await page.getByRole("button", { name: "Keep" }).click();
  await expectRows(page, 3);
  await page.getByRole("button", { name: "Delete (2)" }).click();
  await page.getByRole("button", { name: "Confirm delete (2)" }).click();
  await expectRows(page, 1);
  await expect(page.locator(`tr[data-run-id="${keep}"]`)).toBeVisible();
  await expect(page.getByRole("button", { name: /^Compare/ })).toHaveText("Compare");

  await page.getByLabel("Show deleted").check();
  await expect(page).toHaveURL(/deleted=1/);
  await expectRows(page, 3);
  const a = page.locator(`tr[data-run-id="${dropA}"]`);
  await expect(a).toHaveClass(/deleted/);
  await expect(a.locator(".deleted-badge")).toHaveText("deleted");
  await expect(page.locator(`tr[data-run-id="${keep}"] .deleted-badge`)).toHaveCount(0);
  // a deep link keeps the view
  await page.reload();
  await expectRows(page, 3);
  await a.getByRole("checkbox").check();
  await page.getByRole("button", { name: "Restore (1)" }).click();
  await expect(a).not.toHaveClass(/deleted/);
  await page.getByLabel("Show deleted").uncheck();
  await expectRows(page, 2);
  const run = await api.get(`/runs/get?run_id=${dropB}`);
  expect(run.run.info.lifecycle_stage).toBe("deleted");
});
