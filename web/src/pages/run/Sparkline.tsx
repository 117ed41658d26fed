// A tiny SVG of a series' buckets: the min–max band and the mean line.
import type { SeriesBuckets } from "../../charts/types";

export function sparkPaths(s: SeriesBuckets, width: number, height: number): { line: string; band: string } | null {
  const n = s.x_first.length;
  if (n === 0) return null;
  const x0 = s.x_first[0];
  const x1 = s.x_last[n - 1];
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, s.min[i]);
    hi = Math.max(hi, s.max[i]);
  }
  const sx = (x: number) => (x1 > x0 ? ((x - x0) / (x1 - x0)) * (width - 2) + 1 : width / 2);
  const sy = (v: number) => (hi > lo ? height - 1 - ((v - lo) / (hi - lo)) * (height - 2) : height / 2);
  const xs = s.x_first.map((_, i) => sx((s.x_first[i] + s.x_last[i]) / 2));
  const fmt = (v: number) => v.toFixed(1);
  const line = xs.map((x, i) => `${i ? "L" : "M"}${fmt(x)},${fmt(sy(s.mean[i]))}`).join("");
  const top = xs.map((x, i) => `${fmt(x)},${fmt(sy(s.max[i]))}`);
  const bottom = xs.map((x, i) => `${fmt(x)},${fmt(sy(s.min[i]))}`).reverse();
  return { line: n === 1 ? `M0,${fmt(sy(s.mean[0]))}H${width}` : line, band: `M${[...top, ...bottom].join("L")}Z` };
}

export function Sparkline({ series, width = 100, height = 24 }: { series: SeriesBuckets | undefined; width?: number; height?: number }) {
  const paths = series ? sparkPaths(series, width, height) : null;
  if (!paths) return <svg width={width} height={height} aria-hidden="true" className="sparkline" />;
  return (
    <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} className="sparkline" role="img" aria-label={`Sparkline of ${series!.key}`}>
      <path d={paths.band} fill="var(--accent)" fillOpacity={0.18} stroke="none" />
      <path d={paths.line} fill="none" stroke="var(--accent)" strokeWidth={1.2} />
    </svg>
  );
}
