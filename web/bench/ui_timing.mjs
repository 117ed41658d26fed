// Time experiment pages in headless Chromium: from navigation start to "the first run rows
// are visible and the page answers" (the row is on screen, then one animation frame and one
// task later the main thread has run our callback; first_rows.mjs watches from inside the
// page). One browser for the whole run; each load uses a fresh browser context, so nothing is
// cached; with several pages the loads alternate between them, round by round, so all see
// the same machine. Prints {"ms": [[...], ...]}
// (one list per page, in the order given) as the last line.
//
//   node bench/ui_timing.mjs [--repeats N] [--pids P,P] <url> <row selector> [<url> <row selector> ...]
//
// Before each timed load it waits until the browser and the processes in --pids (the
// servers), with their children, have been idle for 300 ms (at most 15 s), so no load is
// timed while a server or the browser still works on an earlier page. Each page also gets
// one untimed load first, so first-request costs are not counted.
import { chromium } from "@playwright/test";
import { loadFirstRows } from "./first_rows.mjs";
import { CHROMIUM, quiet } from "./quiet.mjs";

const args = process.argv.slice(2);
let repeats = 5;
let watched = [];
const pages = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--repeats") repeats = Number(args[++i]);
  else if (args[i] === "--pids") watched = args[++i].split(",").filter(Boolean).map(Number);
  else pages.push({ url: args[i], selector: args[++i] });
}
if (!pages.length || pages.some((p) => !p.url || !p.selector) || !(repeats > 0)) {
  console.error("usage: node bench/ui_timing.mjs [--repeats N] [--pids P,P] <url> <row selector> [<url> <row selector> ...]");
  process.exit(2);
}
const TIMEOUT_MS = 120_000;

/** One cold load of `page`: [first rows visible, interactive, rows in the DOM]. */
async function load(browser, { url, selector }) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  try {
    const { shown, ready, rows } = await loadFirstRows(context, url, selector, TIMEOUT_MS);
    return [shown, ready, rows];
  } finally {
    await context.close();
  }
}

const browser = await chromium.launch(CHROMIUM);
const ms = pages.map(() => []);
try {
  for (const page of pages) await load(browser, page);
  for (let round = 0; round < repeats; round++) {
    for (const [i, page] of pages.entries()) {
      const waited = await quiet(watched);
      const [shownAt, readyAt, rows] = await load(browser, page);
      ms[i].push(readyAt);
      console.error(
        `round ${round + 1}, ${page.url}: first rows at ${shownAt.toFixed(0)} ms, interactive at ${readyAt.toFixed(0)} ms (${rows} rows in the DOM; quiet after ${waited.toFixed(0)} ms)`,
      );
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ms }));
