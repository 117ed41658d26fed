// Work that can wait: run it once the page has been quiet for a while.

/** Calls `fn` when the browser is idle, no sooner than `delayMs` from now (and no later than
 * `delayMs + 1500`); returns a function that cancels it. */
export function whenIdle(fn: () => void, delayMs = 0): () => void {
  const idle = window.requestIdleCallback ?? ((cb: () => void) => window.setTimeout(cb, 0));
  const cancelIdle = window.cancelIdleCallback ?? window.clearTimeout;
  let handle = 0;
  const timer = window.setTimeout(() => (handle = idle(fn, { timeout: 1500 })), delayMs);
  return () => {
    window.clearTimeout(timer);
    cancelIdle(handle);
  };
}
