// Time from navigation of a /metrics page to the chart drawn, in headless Chromium, and check
// the spike is on the canvas. Usage: node bench/chart_bench.mjs <page url> <spike step>
// <spike value> <repeats>. Prints one JSON line per repeat. Driven by benchmarks/chart_bench.py.
import { chromium } from "@playwright/test";

const [url, spikeStepArg, spikeValueArg, repeatsArg] = process.argv.slice(2);
const spikeStep = Number(spikeStepArg);
const spikeValue = Number(spikeValueArg);
const repeats = Math.min(50, Math.max(1, Number(repeatsArg ?? "5")));

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  for (let i = 0; i < repeats; i++) {
    // a fresh context each time: no HTTP cache, no warm JS, as a first visit
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(url, { waitUntil: "commit" });
    await page.waitForFunction(() => (window.__cairnCharts ?? []).some((c) => c.maxValue !== null), null, {
      timeout: 30_000,
      polling: "raf",
    });
    const result = await page.evaluate(
      ({ spikeStep, spikeValue }) => {
        const chart = window.__cairnCharts.find((c) => c.maxValue !== null);
        const u = chart.plot;
        const nav = performance.getEntriesByType("navigation")[0];
        // where the spike must be: its x column, from the top of the band down to its value
        const ctx = u.ctx;
        const px = Math.round(u.valToPos(spikeStep, "x", true));
        const py = Math.round(u.valToPos(spikeValue, "y", true));
        const bottom = Math.round(u.valToPos(u.scales.y.min, "y", true));
        // blue pixels in the spike's column (±2 px) near the spike's height, and in the
        // same band of heights far from the spike (which must be empty)
        const painted = (x0) => {
          const w = 5;
          const top = Math.max(0, py - 2);
          const h = Math.max(4, Math.round((bottom - py) * 0.2));
          const img = ctx.getImageData(Math.max(0, x0 - 2), top, w, h).data;
          let n = 0;
          // the first series is blue (#2f6fdb); grid lines are grey
          for (let j = 0; j < img.length; j += 4) if (img[j + 3] > 0 && img[j + 2] - img[j] > 60) n++;
          return n;
        };
        const farX = Math.round(u.valToPos(u.scales.x.min + (u.scales.x.max - u.scales.x.min) * 0.1, "x", true));
        return {
          drawn_ms: chart.drawnAt,
          response_end_ms: nav ? nav.responseEnd : null,
          plotted_max: chart.maxValue,
          y_max: u.scales.y.max,
          spike_pixels: painted(px),
          far_pixels: painted(farX),
          buckets: u.data[0].length,
          // where the time went: each request's start and end (ms after navigation start)
          marks: performance.getEntriesByType("mark").map((m) => `${m.name}@${Math.round(m.startTime)}`),
          requests: performance
            .getEntriesByType("resource")
            .map((r) => `${r.name.replace(location.origin, "").slice(0, 40)} ${Math.round(r.startTime)}-${Math.round(r.responseEnd)}`),
        };
      },
      { spikeStep, spikeValue },
    );
    console.log(JSON.stringify({ ...result, errors }));
    await context.close();
  }
} finally {
  await browser.close();
}
