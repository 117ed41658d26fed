// Time experiment chart views in headless Chromium: from navigation start until every chart of
// the view has all its runs' curves drawn, then one animation frame and one task later (the
// frame is painted and the page answers). Driven by benchmarks/chart_view_bench.py.
//
//   node bench/chart_view_timing.mjs [--repeats N] [--pids P,P] [--runs R] [--keys K]
//        [--viewport WxH] [--timeout S] [--verbose] <kind> <url> [<kind> <url> ...]
//   (kind: cairn or mlflow; a load not drawn within S seconds, 300 by default, counts as null)
//
// "Drawn", per UI, checked by a watcher added to the page before it loads (addInitScript) on
// every animation frame, so no harness code runs in the page meanwhile:
// - cairn: each chart's uPlot draw hook records itself in window.__cairnCharts with its key and
//   series count (src/charts/MetricChart.tsx); drawn = K distinct keys, each drawn with R
//   series (the canvas is painted synchronously in that hook).
// - mlflow: its charts are Plotly plots (SVG); drawn = K plots (.js-plotly-plot) each with R
//   line traces (.scatterlayer .trace) whose path has points (a non-empty "d").
//
// MLflow's chart view draws only its first 10 runs until "Show all runs" is chosen in the runs
// table's visibility menu; the untimed first load chooses it, and the timed loads start from
// that browser state (its local storage), as a user who chose it once would.
//
// One browser; each load in a fresh context; the pages alternate round by round after one
// untimed load each (for MLflow, the one that chooses "Show all runs"); before each timed load the browser and servers must be idle (quiet.mjs).
// Prints {"pages": [{"ms": [...], "notes": [...]}, ...]} as the last line.
import { chromium } from "@playwright/test";
import { CHROMIUM, quiet } from "./quiet.mjs";

const args = process.argv.slice(2);
let repeats = 5;
let watched = [];
let runs = 100;
let keys = 5;
let viewport = { width: 1440, height: 900 };
let verbose = false;
let timeoutMs = 300_000;
const pages = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--repeats") repeats = Number(args[++i]);
  else if (args[i] === "--pids") watched = args[++i].split(",").filter(Boolean).map(Number);
  else if (args[i] === "--runs") runs = Number(args[++i]);
  else if (args[i] === "--verbose") verbose = true;
  else if (args[i] === "--timeout") timeoutMs = Number(args[++i]) * 1000;
  else if (args[i] === "--keys") keys = Number(args[++i]);
  else if (args[i] === "--viewport") {
    const [w, h] = args[++i].split("x").map(Number);
    viewport = { width: w, height: h };
  } else pages.push({ kind: args[i], url: args[++i] });
}
if (!pages.length || pages.some((p) => !["cairn", "mlflow"].includes(p.kind) || !p.url) || !(repeats > 0)) {
  console.error("usage: node bench/chart_view_timing.mjs [--repeats N] [--pids P,P] [--runs R] [--keys K] [--viewport WxH] <cairn|mlflow> <url> ...");
  process.exit(2);
}
const REPORT = "__cairn_charts_drawn__";

/** Runs in the page: reports [drawn, ready, detail] once the charts hold every curve. */
function watch([kind, runs, keys, report, timeout]) {
  if (window !== window.top) return;
  const cairnDrawn = () => {
    const charts = window.__cairnCharts ?? [];
    const full = new Set();
    for (const c of charts) if (c.series >= runs && c.maxValue !== null) full.add(c.keys.join(","));
    return full.size >= keys ? `${charts.length} charts, ${full.size} with ${runs} series` : null;
  };
  const mlflowDrawn = () => {
    const plots = document.querySelectorAll(".js-plotly-plot");
    if (plots.length < keys) return null;
    let full = 0;
    for (const plot of plots) {
      let lines = 0;
      for (const path of plot.querySelectorAll(".scatterlayer .trace path.js-line")) {
        const d = path.getAttribute("d");
        if (d && d.length > 10) lines++;
      }
      if (lines >= runs) full++;
    }
    return full >= keys ? `${plots.length} plots, ${full} with ${runs} lines` : null;
  };
  const drawn = kind === "cairn" ? cairnDrawn : mlflowDrawn;
  const check = () => {
    const detail = drawn();
    if (detail) {
      const at = performance.now();
      requestAnimationFrame(() => setTimeout(() => console.debug(report, JSON.stringify([at, performance.now(), detail])), 0));
      return;
    }
    if (performance.now() < timeout) requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}

/** Makes MLflow's chart view draw every run: the runs visibility menu's "Show all runs". */
async function showAllRuns(page) {
  const deadline = Date.now() + timeoutMs;
  const choice = page.getByRole("menuitemradio", { name: "Show all runs" });
  for (;;) {
    // a click before the page has settled may open nothing: try again until the menu shows
    await page.getByRole("button", { name: "Toggle visibility of runs" }).click({ timeout: timeoutMs });
    try {
      await choice.click({ timeout: 15_000 });
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await page.keyboard.press("Escape");
    }
  }
  await page.waitForTimeout(1500); // the UI state is written to local storage after a render
}

/** One cold load: { drawn, ready, detail, requests }, times in ms from navigation start. */
async function load(browser, page, { untimed = false } = {}) {
  const context = await browser.newContext({ viewport, storageState: page.storage });
  try {
    await context.addInitScript(watch, [page.kind, runs, keys, REPORT, timeoutMs]);
    const tab = await context.newPage();
    const errors = [];
    tab.on("pageerror", (e) => errors.push(String(e)));
    if (untimed && page.kind === "mlflow" && !page.storage) {
      await tab.goto(page.url, { waitUntil: "commit", timeout: timeoutMs });
      await showAllRuns(tab);
      page.storage = await context.storageState();
      return null;
    }
    const reported = tab.waitForEvent("console", { predicate: (m) => m.text().startsWith(REPORT), timeout: timeoutMs });
    await tab.goto(page.url, { waitUntil: "commit", timeout: timeoutMs });
    let drawn = null;
    let ready = null;
    let detail;
    try {
      [drawn, ready, detail] = JSON.parse((await reported).text().slice(REPORT.length + 1));
    } catch {
      // not drawn in time: say how far it got
      detail = await tab.evaluate(
        ({ kind, runs }) =>
          kind === "cairn"
            ? `not drawn in time: ${(window.__cairnCharts ?? []).map((c) => c.series).join(", ") || "no"} series per chart`
            : `not drawn in time: ${[...document.querySelectorAll(".js-plotly-plot")].map((p) => p.querySelectorAll(".scatterlayer .trace path.js-line").length).join(", ") || "no"} of ${runs} lines per plot`,
        { kind: page.kind, runs },
      );
    }
    const requests = await tab.evaluate(() => {
      const api = performance.getEntriesByType("resource").filter((r) => /\/(api|ajax-api)\//.test(r.name));
      const charts = api.filter((r) => /downsample|get-history|metrics\/history/.test(r.name));
      const line = (r) => `${r.name.replace(location.origin, "").slice(0, 60)} ${Math.round(r.startTime)}-${Math.round(r.responseStart)}-${Math.round(r.responseEnd)}`;
      return {
        api: api.length,
        chart: charts.length,
        chartBytes: charts.reduce((n, r) => n + (r.encodedBodySize || 0), 0),
        timeline: performance.getEntriesByType("resource").map(line),
      };
    });
    if (verbose) console.error(`${page.kind} requests (start-first byte-end, ms after navigation start):\n  ${requests.timeline.join("\n  ")}`);
    return { drawn, ready, detail, requests, errors };
  } finally {
    await context.close();
  }
}

const browser = await chromium.launch(CHROMIUM);
const results = pages.map(() => ({ ms: [], notes: [] }));
try {
  // untimed: Cairn's first load; MLflow's sets "Show all runs" (its page and server warm up
  // meanwhile, and a full untimed load of MLflow's would take minutes)
  for (const page of pages) await load(browser, page, { untimed: true });
  for (let round = 0; round < repeats; round++) {
    for (const [i, page] of pages.entries()) {
      const waited = await quiet(watched);
      const r = await load(browser, page);
      results[i].ms.push(r.ready); // null: not drawn within the timeout
      const note = `${r.detail}; ${r.requests.api} API requests, ${r.requests.chart} for chart data (${Math.round(r.requests.chartBytes / 1024)} KiB); page errors ${r.errors.length}`;
      results[i].notes.push(note);
      const at = r.ready === null ? `not drawn within ${timeoutMs / 1000} s` : `drawn at ${r.drawn.toFixed(0)} ms, ready at ${r.ready.toFixed(0)} ms`;
      console.error(`round ${round + 1}, ${page.kind}: ${at} (${note}; quiet after ${waited.toFixed(0)} ms)`);
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ pages: results }));
