import { test, expect } from "./fixtures";

// Pages of runs are fetched as the user scrolls: 50 first, then 1,000 at a time.
test("scrolling fetches more runs, keyset page after page", async ({ page, api }) => {
  test.setTimeout(180_000);
  const total = 1_234;
  const eid = await api.createExperiment(`paging-${Date.now()}`);
  const t0 = Date.parse("2026-11-01T00:00:00Z");
  const make = async (i: number) => {
    const id = await api.createRun(eid, `run-${String(i).padStart(5, "0")}`, { start: t0 + i * 1000 });
    await api.logBatch(id, { i }, { score: i / total });
  };
  for (let i = 0; i < total; i += 16) await Promise.all(Array.from({ length: Math.min(16, total - i) }, (_, k) => make(i + k)));

  await page.goto(`/experiments/${eid}`);
  const count = page.getByTestId("run-count");
  await expect(count).toContainText(`of ${total.toLocaleString("en-US")} runs loaded`);
  const rendered = await page.locator("tbody tr.run-row").count();
  expect(rendered).toBeLessThan(60); // virtual rows: only what is on screen, plus a margin

  const scroller = page.getByTestId("runs-scroller");
  for (let i = 0; i < 40; i++) {
    await scroller.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    if ((await count.innerText()) === `${total.toLocaleString("en-US")} runs`) break;
    await page.waitForTimeout(150);
  }
  await expect(count).toHaveText(`${total.toLocaleString("en-US")} runs`);
  await scroller.evaluate((el) => el.scrollTo(0, el.scrollHeight)); // the last page made it taller
  await expect(page.locator("tbody tr.run-row").last()).toContainText("run-00000"); // newest first, oldest last
  expect(await page.locator("tbody tr.run-row").count()).toBeLessThan(60);
  const names = await page.locator("tbody tr.run-row .run-link").allInnerTexts();
  expect(new Set(names).size).toBe(names.length); // no run twice at a page boundary
});
