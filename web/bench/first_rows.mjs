// The moment the browser benchmarks time: the first run rows are on screen, and then the page
// answers (one animation frame and one task later its main thread runs a callback). Both are
// read from performance.now() in the page, so they count from navigation start.

/** performance.now() when an element matching `selector`, with text, is first on screen. */
export async function firstRowsShown(page, selector, timeout = 120_000) {
  const shown = await page.waitForFunction(
    (sel) => {
      for (const el of document.querySelectorAll(sel)) {
        const r = el.getBoundingClientRect();
        if (r.height > 0 && r.bottom > 0 && r.top < window.innerHeight && el.textContent.trim()) return performance.now();
      }
      return false;
    },
    selector,
    { polling: "raf", timeout },
  );
  return shown.jsonValue();
}

/** performance.now() once the page has drawn a frame and then run a task. */
export function interactive(page) {
  return page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(() => resolve(performance.now()), 0))));
}
