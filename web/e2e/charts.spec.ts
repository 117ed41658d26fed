import { test, expect } from "./fixtures";
import { logHistory } from "./run-data";
import { setTheme, shot, SHOTS } from "./shots";
import type { Page } from "@playwright/test";

const SPIKE_STEP = 12_345;
const SPIKE = 100;

async function chartState(page: Page) {
  return page.evaluate(() =>
    (window.__cairnCharts ?? []).map((c) => ({ keys: c.keys, max: c.maxValue, series: c.series, buckets: c.plot.data[0].length, xMin: c.plot.scales.x.min, xMax: c.plot.scales.x.max })),
  );
}

/** Pixels of the chart's canvas that are painted in a series colour (not background or grid). */
async function colouredPixels(page: Page): Promise<number> {
  return page.evaluate(() => {
    const c = window.__cairnCharts![0].plot;
    const { width, height } = c.ctx.canvas;
    const img = c.ctx.getImageData(0, 0, width, height).data;
    let n = 0;
    for (let i = 0; i < img.length; i += 4) {
      const [r, g, b, a] = [img[i], img[i + 1], img[i + 2], img[i + 3]];
      if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
    }
    return n;
  });
}

test("metric chart: draws, hovers, toggles, zooms with refetch, resets, switches axes", async ({ page, api }) => {
  const eid = await api.createExperiment(`charts-${Date.now()}`);
  const a = await api.createRun(eid, "run-a", { start: 1_700_000_000_000 });
  const b = await api.createRun(eid, "run-b", { start: 1_700_000_000_000 });
  const n = 20_000;
  await logHistory(api, a, "loss", Array.from({ length: n }, (_, i) => (i === SPIKE_STEP ? SPIKE : 2 / (1 + i / 500) + ((i * 7919) % 13) / 100)));
  await logHistory(api, b, "loss", Array.from({ length: n / 2 }, (_, i) => 1.5 / (1 + i / 300)), 1_700_000_000_000, 2000);

  await page.goto(`/metrics?runs=${a},${b}&keys=loss&x=step`);
  const figure = page.getByRole("figure", { name: "loss" });
  await expect(figure).toBeVisible();
  await expect.poll(async () => (await chartState(page))[0]?.max).toBe(SPIKE);
  const first = (await chartState(page))[0];
  expect(first.series).toBe(2);
  expect(first.buckets).toBeGreaterThan(500);
  expect(first.buckets).toBeLessThan(n); // buckets, not raw points
  expect(await colouredPixels(page)).toBeGreaterThan(1000);

  // legend: both runs by name; hover shows values
  const legend = figure.getByRole("list", { name: "Legend" });
  await expect(legend.getByRole("button", { name: /run-a/ })).toBeVisible();
  await expect(legend.getByRole("button", { name: /run-b/ })).toBeVisible();
  const over = figure.locator(".u-over");
  const box = (await over.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await expect(legend.getByText(/^Step: ≈?\d+/)).toBeVisible();
  await shot(page, "chart-metrics");

  // toggling a series hides it
  await legend.getByRole("button", { name: /run-b/ }).click();
  await expect(legend.getByRole("button", { name: /run-b/ })).toHaveAttribute("aria-pressed", "false");
  await expect.poll(() => page.evaluate(() => window.__cairnCharts![0].plot.series[4].show)).toBe(false);
  await legend.getByRole("button", { name: /run-b/ }).click();

  // drag-zoom around the spike: the window goes into the URL and is fetched at full detail
  const x0 = await page.evaluate((s) => window.__cairnCharts![0].plot.valToPos(s - 60, "x"), SPIKE_STEP);
  const x1 = await page.evaluate((s) => window.__cairnCharts![0].plot.valToPos(s + 60, "x"), SPIKE_STEP);
  await page.mouse.move(box.x + x0, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + (x0 + x1) / 2, box.y + box.height / 2, { steps: 4 });
  await page.mouse.move(box.x + x1, box.y + box.height / 2, { steps: 4 });
  await page.mouse.up();
  await expect(page).toHaveURL(/from=\d+&to=\d+/);
  await expect
    .poll(async () => {
      const s = (await chartState(page))[0];
      return s && s.xMax! - s.xMin! < 200 ? s : null;
    })
    .not.toBeNull();
  const zoomed = (await chartState(page))[0];
  expect(zoomed.max).toBe(SPIKE);
  expect(zoomed.buckets).toBeGreaterThan(100); // single points now: ~121 steps, one bucket each
  expect(zoomed.buckets).toBeLessThan(130);
  await shot(page, "chart-zoomed");
  await figure.getByRole("button", { name: "Reset zoom" }).click();
  await expect(page).not.toHaveURL(/from=/);
  await expect.poll(async () => (await chartState(page))[0]?.buckets ?? 0).toBeGreaterThan(500);

  // relative time and wall time
  await page.getByLabel("X axis").selectOption("relative");
  await expect(page).toHaveURL(/x=relative/);
  await expect.poll(async () => (await chartState(page))[0]?.xMax ?? 0).toBeGreaterThan(15_000); // seconds
  // counted from the run's first point (logged in 2023, long before the run was created), not
  // from its start time: the axis starts at 0, not at thousands of hours below it
  const relative = (await chartState(page))[0];
  expect(relative.xMin).toBeGreaterThanOrEqual(0);
  expect(relative.xMin).toBeLessThan(60);
  await shot(page, "chart-relative");
  await expect(figure.getByText("Relative time ·")).toBeVisible();
  await page.getByLabel("X axis").selectOption("wall");
  await expect.poll(async () => (await chartState(page))[0]?.xMin ?? 0).toBeGreaterThan(1_699_999_000);

  // log scale and smoothing
  await page.getByLabel("X axis").selectOption("step");
  await page.getByLabel("Log scale").check();
  await expect(page).toHaveURL(/log=1/);
  await expect.poll(() => page.evaluate(() => window.__cairnCharts?.[0]?.plot.scales.y.distr)).toBe(3);
  await page.getByRole("slider", { name: "Smoothing" }).focus();
  await page.keyboard.press("End");
  await expect(page).toHaveURL(/smooth=100/);
  await expect.poll(async () => (await chartState(page))[0]?.max).toBe(SPIKE); // the band keeps the spike
  expect(await colouredPixels(page)).toBeGreaterThan(1000);
  await shot(page, "chart-log-smoothed");
  if (SHOTS) {
    await setTheme(page, "dark");
    await expect.poll(async () => (await chartState(page))[0]?.max).toBe(SPIKE);
    await shot(page, "chart-log-smoothed-dark");
    await setTheme(page, "light");
  }
});

test("metric chart: zooms, pans and resets from the keyboard, through the same URL window and refetch", async ({ page, api }) => {
  const eid = await api.createExperiment(`charts-keys-zoom-${Date.now()}`);
  const run = await api.createRun(eid, "keyboard");
  const n = 4000; // steps 0..3999: more points than the chart's buckets, so zooming in refetches finer
  await logHistory(api, run, "loss", Array.from({ length: n }, (_, i) => 1 / (1 + i / 100)));
  await page.goto(`/metrics?runs=${run}&keys=loss&x=step`);
  const figure = page.getByRole("figure", { name: "loss" });
  await expect.poll(async () => (await chartState(page))[0]?.max).toBe(1);
  const whole = (await chartState(page))[0];
  expect(whole.buckets).toBeLessThan(n);

  // Tab from the last metric checkbox reaches the chart, which names itself and its keys
  await page.getByRole("group", { name: "Metrics" }).getByLabel("loss").focus();
  await page.keyboard.press("Tab");
  const chart = figure.getByRole("application", { name: "loss chart: + and − zoom, ← → pan, 0 resets" });
  await expect(chart).toBeFocused();
  await expect(figure.getByRole("button", { name: "Reset zoom" })).toHaveCount(0);

  // + halves the window around its centre: [0, 3999] -> [999, 3000], into the URL as a drag does
  await page.keyboard.press("+");
  await expect(page).toHaveURL(/from=999&to=3000/);
  await expect(figure.getByRole("button", { name: "Reset zoom" })).toBeVisible();
  await expect(figure.locator("[aria-live]")).toHaveText("Step 999 to 3000");
  // the chart keeps the focus while it redraws, so a second press zooms again: 1,002 steps,
  // fetched as one bucket each
  await expect(chart).toBeFocused();
  await page.keyboard.press("=");
  await expect(page).toHaveURL(/from=1499&to=2500/);
  await expect.poll(async () => (await chartState(page))[0]).toMatchObject({ buckets: 1002, xMin: 1499, xMax: 2500 });

  // → pans by a quarter of the width, − doubles it
  await page.keyboard.press("ArrowRight");
  await expect(page).toHaveURL(/from=1749&to=2750/);
  await page.keyboard.press("-");
  await expect(page).toHaveURL(/from=1248&to=3251/);
  // 2,004 steps in 1,300 buckets: the first and last bucket centres lie within a step of the ends
  await expect
    .poll(async () => {
      const s = (await chartState(page))[0];
      return s ? [Math.floor(s.xMin!), Math.ceil(s.xMax!)] : null;
    })
    .toEqual([1248, 3251]);

  // 0 resets: no window in the URL, the whole range drawn again
  await page.keyboard.press("0");
  await expect(page).not.toHaveURL(/from=/);
  await expect(figure.getByRole("button", { name: "Reset zoom" })).toHaveCount(0);
  await expect(figure.locator("[aria-live]")).toHaveText("Whole range");
  await expect.poll(async () => (await chartState(page))[0]).toMatchObject({ buckets: whole.buckets, xMin: whole.xMin, xMax: whole.xMax });

  // and so does Escape; zooming out to the whole range is a reset too
  await page.keyboard.press("+");
  await expect(page).toHaveURL(/from=999&to=3000/);
  await page.keyboard.press("Escape");
  await expect(page).not.toHaveURL(/from=/);
  // the URL changes before the chart has drawn the whole range again: wait for that, so the
  // next key zooms from the whole range (it once zoomed from the old window)
  await expect(figure.locator("[aria-live]")).toHaveText("Whole range");
  await page.keyboard.press("+");
  await expect(page).toHaveURL(/from=999&to=3000/);
  await page.keyboard.press("-");
  await expect(page).not.toHaveURL(/from=/);
  await expect(figure.getByRole("button", { name: "Reset zoom" })).toHaveCount(0);

  // opened zoomed in (a shared link): panning and zooming out still stop at the data's ends
  await page.goto(`/metrics?runs=${run}&keys=loss&x=step&from=100&to=1100`);
  await expect.poll(async () => (await chartState(page))[0]?.buckets).toBe(1001);
  await chart.focus();
  await page.keyboard.press("ArrowLeft");
  await expect(page).toHaveURL(/from=0&to=1000/);
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("-");
  await expect(page).toHaveURL(/from=0&to=2000/);
});

test("metric chart page: deep link with several keys, and an empty state", async ({ page, api }) => {
  const eid = await api.createExperiment(`charts-keys-${Date.now()}`);
  const run = await api.createRun(eid, "two-keys");
  await logHistory(api, run, "loss", [3, 2, 1.5, 1.2, 1.1]);
  await logHistory(api, run, "accuracy", [0.5, 0.7, 0.8, 0.85, 0.9]);
  await page.goto(`/metrics?runs=${run}&x=step`);
  await expect(page.getByRole("figure", { name: "accuracy" })).toBeVisible();
  await expect(page.getByRole("figure", { name: "loss" })).toBeVisible();
  await page.getByRole("group", { name: "Metrics" }).getByLabel("accuracy").uncheck();
  await expect(page).toHaveURL(/keys=loss/);
  await expect(page.getByRole("figure", { name: "accuracy" })).toHaveCount(0);
  await expect.poll(async () => (await chartState(page)).map((c) => c.max)).toEqual([3]);

  await page.goto("/metrics");
  await expect(page.getByRole("heading", { name: "No runs chosen" })).toBeVisible();
});
