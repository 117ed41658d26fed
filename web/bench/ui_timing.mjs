// Time an experiment page in headless Chromium: from navigation start to "the first run rows
// are visible and the page answers" (the row is on screen, then one animation frame and one
// task later the main thread has run our callback). Each load uses a fresh browser context,
// so nothing is cached. Prints {"ms": [...]} as the last line.
//
//   node bench/ui_timing.mjs <url> <css selector of a run row> [repeats=5] [pids]
//
// pids (comma-separated): server processes to wait for before each timed load, until they
// and their children have been idle for 300 ms (at most 15 s), so a load is not timed while
// a server still works on an earlier page's requests.
import { readdirSync, readFileSync } from "node:fs";
import { chromium } from "@playwright/test";

const [url, selector, repeatsArg, pidsArg] = process.argv.slice(2);
if (!url || !selector) {
  console.error("usage: node bench/ui_timing.mjs <url> <selector> [repeats] [pids]");
  process.exit(2);
}
const repeats = Number(repeatsArg ?? 5);
const watched = (pidsArg ?? "").split(",").filter(Boolean).map(Number);
const TIMEOUT_MS = 120_000;

/** CPU ticks (user + system) used so far by the watched processes and their descendants. */
function cpuTicks() {
  const stats = new Map(); // pid -> [ppid, ticks]
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, "utf8");
      const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
      stats.set(Number(name), [Number(f[1]), Number(f[11]) + Number(f[12])]);
    } catch {
      // the process has gone
    }
  }
  let total = 0;
  for (const [pid, [, ticks]] of stats) {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = stats.get(p)?.[0] ?? 0, hops++) {
      if (watched.includes(p)) {
        total += ticks;
        break;
      }
    }
  }
  return total;
}

/** Until the watched servers have used under 2 ticks (20 ms of CPU) in 300 ms; ms waited. */
async function serversQuiet() {
  const started = performance.now();
  if (!watched.length) return 0;
  let before = cpuTicks();
  while (performance.now() - started < 15_000) {
    await new Promise((r) => setTimeout(r, 300));
    const now = cpuTicks();
    if (now - before < 2) break;
    before = now;
  }
  return performance.now() - started;
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const ms = [];
try {
  // one untimed load first, so the server's own first-request costs are not counted
  for (let i = -1; i < repeats; i++) {
    const waited = i >= 0 ? await serversQuiet() : 0;
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    await page.goto(url, { waitUntil: "commit", timeout: TIMEOUT_MS });
    const visible = await page.waitForFunction(
      (sel) => {
        for (const el of document.querySelectorAll(sel)) {
          const r = el.getBoundingClientRect();
          if (r.height > 0 && r.bottom > 0 && r.top < window.innerHeight && el.textContent.trim()) return performance.now();
        }
        return false;
      },
      selector,
      { polling: "raf", timeout: TIMEOUT_MS },
    );
    const shownAt = await visible.jsonValue();
    const readyAt = await page.evaluate(
      () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(() => resolve(performance.now()), 0))),
    );
    const rows = await page.locator(selector).count();
    if (i >= 0) {
      ms.push(readyAt);
      const quiet = watched.length ? `; servers quiet after ${waited.toFixed(0)} ms` : "";
      console.error(`load ${i + 1}: first rows at ${shownAt.toFixed(0)} ms, interactive at ${readyAt.toFixed(0)} ms (${rows} rows in the DOM${quiet})`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ms }));
