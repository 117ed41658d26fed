// Time an experiment page in headless Chromium: from navigation start to "the first run rows
// are visible and the page answers" (the row is on screen, then one animation frame and one
// task later the main thread has run our callback). Each load uses a fresh browser context,
// so nothing is cached. Prints {"ms": [...]} as the last line.
//
//   node bench/ui_timing.mjs <url> <css selector of a run row> [repeats=5]
import { chromium } from "@playwright/test";

const [url, selector, repeatsArg] = process.argv.slice(2);
if (!url || !selector) {
  console.error("usage: node bench/ui_timing.mjs <url> <selector> [repeats]");
  process.exit(2);
}
const repeats = Number(repeatsArg ?? 5);
const TIMEOUT_MS = 120_000;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const ms = [];
try {
  // one untimed load first, so the server's own first-request costs are not counted
  for (let i = -1; i < repeats; i++) {
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
      console.error(`load ${i + 1}: first rows at ${shownAt.toFixed(0)} ms, interactive at ${readyAt.toFixed(0)} ms (${rows} rows in the DOM)`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ms }));
