// Break one cold load of a page into phases (HTML, scripts, API answers, long tasks, first
// row), for finding where the experiment page's time goes. Not a pass/fail check.
//
//   node bench/ui_phases.mjs <url> <css selector of a run row> [repeats=3]
import { chromium } from "@playwright/test";
import { loadFirstRows } from "./first_rows.mjs";

const [url, selector, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg ?? 3);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  for (let i = -1; i < repeats; i++) {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    await context.addInitScript(() => {
      window.__longtasks = [];
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) window.__longtasks.push([Math.round(e.startTime), Math.round(e.duration)]);
      }).observe({ type: "longtask", buffered: true });
    });
    const { page, shown, ready } = await loadFirstRows(context, url, selector);
    const info = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const res = performance.getEntriesByType("resource").map((e) => `${e.name.replace(location.origin, "").slice(0, 60)} ${Math.round(e.startTime)}→${Math.round(e.responseEnd)} (${e.transferSize}B)`);
      const paint = performance.getEntriesByType("paint").map((e) => `${e.name} ${Math.round(e.startTime)}`);
      return { nav: `html ${Math.round(nav.requestStart)}→${Math.round(nav.responseEnd)} dcl ${Math.round(nav.domContentLoadedEventEnd)}`, res, paint, longtasks: window.__longtasks };
    });
    if (i >= 0) console.log(JSON.stringify({ shown: Math.round(shown), ready: Math.round(ready), ...info }, null, 1));
    await context.close();
  }
} finally {
  await browser.close();
}
