// Times, durations and numbers as people read them.

/** A duration in milliseconds: "850ms", "42.1s", "3m 05s", "2h 14m", "3d 4h". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.floor(s)}s`;
  const totalS = Math.floor(s);
  const m = Math.floor(totalS / 60);
  if (m < 60) return `${m}m ${String(totalS % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  const d = Math.floor(h / 24);
  return `${d}d ${h % 24}h`;
}

/** A run's duration: end - start, or now - start while it runs; "" without a start. */
export function runDuration(start?: number, end?: number, status?: string, now: number = Date.now()): number | null {
  if (!start) return null;
  if (end && end >= start) return end - start;
  if (status === "RUNNING") return Math.max(0, now - start);
  return null;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** "2026-11-22 17:05:09" in local time. */
export function formatTimestamp(ms: number | null | undefined): string {
  if (!ms) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago", or the date for older times. */
export function relativeTime(ms: number | null | undefined, now: number = Date.now()): string {
  if (!ms) return "";
  const diff = now - ms;
  if (diff < 0) return formatTimestamp(ms);
  const min = diff / 60_000;
  if (min < 1) return "just now";
  if (min < 60) return `${Math.floor(min)} min ago`;
  const h = min / 60;
  if (h < 24) return `${Math.floor(h)} h ago`;
  const d = h / 24;
  if (d < 30) return `${Math.floor(d)} day${Math.floor(d) === 1 ? "" : "s"} ago`;
  return formatTimestamp(ms).slice(0, 10);
}

/** A metric value compactly: up to 6 significant digits, exponent for very large/small. */
export function formatNumber(v: number | string | null | undefined): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v; // "NaN", "Infinity"
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

/** 12,345 (by hand: the first toLocaleString call costs milliseconds of ICU set-up) */
export function formatCount(n: number): string {
  const sign = n < 0 ? "-" : "";
  const digits = String(Math.trunc(Math.abs(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${formatCount(n)} ${n === 1 ? word : many}`;
}

/** Code-point order, without the cost of setting up a locale collator. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
