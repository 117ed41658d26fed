// Browser half of compare_bench.py: opens /compare?runs=… in headless Chromium (Debian's
// /usr/bin/chromium through Playwright from web/node_modules) in a fresh context per round and
// reports, per round, the milliseconds from navigation start until the params/metrics table
// has all its rows and every chart (metric charts, parallel coordinates, scatter, box plot)
// has drawn on its canvas. Prints one JSON line.
//
//   node benchmarks/compare_bench_browser.mjs <base-url> <run-ids-file> <rows> <rounds>
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(new URL("../web/package.json", import.meta.url));
const { chromium } = require("@playwright/test");

const [base, idsFile, rowsArg, roundsArg] = process.argv.slice(2);
const ids = readFileSync(idsFile, "utf8").trim().split(",");
const rows = Number(rowsArg);
const rounds = Number(roundsArg);
const CHARTS = ["metric-chart-accuracy", "metric-chart-f1", "metric-chart-latency_ms", "metric-chart-loss", "parallel-chart", "scatter-chart", "box-chart"];

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const times = [];
const busy = [];
const errors = [];
try {
  for (let round = 0; round < rounds; round++) {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${base}/compare?runs=${ids.join(",")}`, { waitUntil: "commit" });
    // checked on every animation frame; the time is read inside the page, relative to the
    // navigation start, in the frame where everything is there
    const ms = await page.waitForFunction(
      ({ rows, charts }) => {
        if (document.querySelectorAll('[data-testid="compare-row"]').length !== rows) return false;
        for (const id of charts) {
          const canvas = document.querySelector(`[data-testid="${id}"] canvas`);
          if (!canvas || canvas.width === 0) return false;
        }
        return performance.now();
      },
      { rows, charts: CHARTS },
      { polling: "raf", timeout: 60_000 },
    );
    const elapsed = await ms.jsonValue();
    // the renderer main thread's busy time so far (scripts, style, layout, paint): a figure
    // that depends less than the wall time on what else the machine is running
    const metrics = Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
    busy.push(Math.round(metrics.TaskDuration * 1000));
    // not timed: every chart really painted something
    for (const id of CHARTS) {
      const painted = await page.locator(`[data-testid="${id}"] canvas`).first().evaluate((c) => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 28) if (d[i] > 0) n++;
        return n;
      });
      if (painted < 50) throw new Error(`${id} drew nothing`);
    }
    const cols = await page.locator('[data-testid="compare-table"]').getAttribute("data-runs");
    if (Number(cols) !== ids.length) throw new Error(`table has ${cols} runs, expected ${ids.length}`);
    times.push(Math.round(elapsed));
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ times_ms: times, main_thread_busy_ms: busy, console_errors: errors }));
