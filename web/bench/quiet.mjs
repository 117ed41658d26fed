// Waiting for an idle machine between timed page loads: the browser (this Node process's
// children) and the servers given by PID, with their children, must have used under 3 CPU
// ticks (30 ms) in 300 ms, at most 15 s of waiting. Shared by the browser benchmarks.
import { readdirSync, readFileSync } from "node:fs";

/** CPU ticks (user + system) used so far by the `watched` processes and their descendants. */
export function cpuTicks(watched) {
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

/** Waits until the watched processes (and this one's children) are idle; the ms waited. */
export async function quiet(watched) {
  const all = [...watched, process.pid];
  const started = performance.now();
  let before = cpuTicks(all);
  while (performance.now() - started < 15_000) {
    await new Promise((r) => setTimeout(r, 300));
    const now = cpuTicks(all);
    if (now - before < 3) break;
    before = now;
  }
  return performance.now() - started;
}

/** The Chromium the benchmarks use: Debian's, headless, with background work turned off. */
export const CHROMIUM = {
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
};
