// The moment the browser benchmarks time: the first run rows are on screen, and then the page
// answers (one animation frame and one task later its main thread runs a callback). Both are
// read from performance.now() in the page, so they count from navigation start.
//
// The watcher is a few lines added to the browser context before the page loads
// (addInitScript). It checks on every animation frame from the page's first one and reports
// through the console, so nothing of the harness's own runs in the page while it loads.
// (Polling from Playwright instead, with page.waitForFunction, first injects Playwright's own
// helper script into the new page and then calls it over the DevTools protocol; in a page
// that is ready in 200 ms that added some 70 ms of the harness's work, and far less to a page
// that takes seconds.)

const REPORT = "__cairn_first_rows__";

/** Runs in the page: reports [shown, ready, matching elements] once `selector` is on screen. */
function watch([selector, report, timeout]) {
  if (window !== window.top) return; // frames inside the page are not the page
  const check = () => {
    for (const el of document.querySelectorAll(selector)) {
      const r = el.getBoundingClientRect();
      if (r.height > 0 && r.bottom > 0 && r.top < window.innerHeight && el.textContent.trim()) {
        const shown = performance.now();
        const rows = document.querySelectorAll(selector).length;
        requestAnimationFrame(() =>
          setTimeout(() => console.debug(report, JSON.stringify([shown, performance.now(), rows])), 0),
        );
        return;
      }
    }
    if (performance.now() < timeout) requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}

/** Opens `url` in a new page of `context` (which must not have loaded a page yet) and waits
 * for its first rows: { page, shown, ready, rows }, the times in ms from navigation start. */
export async function loadFirstRows(context, url, selector, timeout = 120_000) {
  await context.addInitScript(watch, [selector, REPORT, timeout]);
  const page = await context.newPage();
  const reported = page.waitForEvent("console", { predicate: (m) => m.text().startsWith(REPORT), timeout });
  await page.goto(url, { waitUntil: "commit", timeout });
  const [shown, ready, rows] = JSON.parse((await reported).text().slice(REPORT.length + 1));
  return { page, shown, ready, rows };
}
