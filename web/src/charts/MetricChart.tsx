// One uPlot chart of run × key series from the downsampling endpoint: a min–max band (spikes
// stay visible) under the mean line, x as step / relative / wall time, EMA smoothing, log
// scale, a legend with hover values and toggles, drag to zoom (refetches that window at full
// resolution), zoom and pan from the keyboard, reset.
import { useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { usePrefetchQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./chart.css";
import { AXIS_LABELS, formatRelativeTick, formatX, RELATIVE_INCRS, selectionToWindow } from "./axes";
import { bucketsForSeries, colorFor, toPlotData, type PlotData } from "./data";
import { fetchBuckets } from "./fetch";
import type { XAxis, XWindow } from "./types";
import { chartKeyAction, describeWindow, stepWindow } from "./zoom";
import { formatNumber } from "../lib/format";

export interface ChartProps {
  runs: string[];
  keys: string[];
  runNames?: Record<string, string>;
  axis: XAxis;
  smoothing: number;
  log: boolean;
  window: XWindow | null;
  onWindowChange: (w: XWindow | null) => void;
  height?: number;
  title?: string;
  /** A run's colour (the experiment's chart view shares the runs table's); default: by series index */
  colorOf?: (runId: string, index: number) => string;
  /** More series than this fold the legend into a closed disclosure (a hundred runs) */
  legendLimit?: number;
  /** The chart's width before it is laid out, when it is not the page's (a chart grid) */
  initialPixels?: number;
}

interface DrawnChart {
  keys: string[];
  drawnAt: number;
  maxValue: number | null;
  series: number;
  plot: uPlot;
}

declare global {
  interface Window {
    __cairnCharts?: DrawnChart[];
  }
}

function themeColors() {
  const css = getComputedStyle(document.documentElement);
  const get = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return { text: get("--text-muted", "#5c6776"), grid: get("--border", "#d9dde3"), bg: get("--surface", "#fff") };
}

function useThemeVersion(): number {
  const [v, setV] = useState(0);
  useEffect(() => {
    const bump = () => setV((n) => n + 1);
    window.addEventListener("cairn-theme", bump);
    return () => window.removeEventListener("cairn-theme", bump);
  }, []);
  return v;
}

function withAlpha(hex: string, alpha: number): string {
  const a = Math.round(alpha * 255).toString(16).padStart(2, "0");
  return `${hex}${a}`;
}

/** The chart's width before it is laid out, from the page's CSS (.page: max-width 1400px,
 * padding 24px; .metric-chart: padding 12px, border 1px). A wrong guess costs a second
 * request once the real width is measured. */
function estimatePixels(): number {
  return Math.max(0, Math.min(window.innerWidth, 1400) - 2 * 24 - 2 * 12 - 2);
}

function seriesLabel(runId: string, key: string, names: Record<string, string> | undefined, runs: number, keys: number): string {
  const run = names?.[runId] ?? runId.slice(0, 8);
  if (runs === 1) return key;
  if (keys === 1) return run;
  return `${run} · ${key}`;
}

export function MetricChart(props: ChartProps) {
  const { runs, keys, axis, smoothing, log, window: win, onWindowChange, height = 300 } = props;
  const box = useRef<HTMLDivElement>(null);
  const [pixels, setPixels] = useState(() => props.initialPixels ?? estimatePixels());
  const [hidden, setHidden] = useState<Set<number>>(new Set());
  const [hover, setHover] = useState<number | null>(null);
  const themeVersion = useThemeVersion();

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    setPixels(el.clientWidth);
    const ro = new ResizeObserver(() => setPixels(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const width = bucketsForSeries(pixels, runs.length * keys.length);
  const colorOf = props.colorOf ?? ((_run: string, k: number) => colorFor(k));
  const colorRef = useRef(colorOf);
  colorRef.current = colorOf;
  const wanted = pixels > 0 && runs.length > 0 && keys.length > 0;
  const optionsFor = (w: XWindow | null) => ({
    queryKey: ["downsample", runs, keys, axis, width, w?.min ?? null, w?.max ?? null],
    queryFn: ({ signal }: { signal: AbortSignal }) => (wanted ? fetchBuckets(runs, keys, axis, width, w, signal) : Promise.resolve(null)),
  });
  const options = optionsFor(win);
  // ask during the first render, not after the commit: React holds back revealing a page that
  // was behind a Suspense fallback (the lazy route) for up to 300 ms, and the effect that
  // useQuery fetches from waits for that
  usePrefetchQuery(options);
  const query = useQuery({ ...options, enabled: wanted, placeholderData: (prev) => prev });
  const resp = query.data ?? null;
  const plotData: PlotData | null = useMemo(
    () => (resp && resp.x === axis ? toPlotData(resp, { axis, smoothing, log }) : null),
    [resp, axis, smoothing, log],
  );
  const onZoom = useRef(onWindowChange);
  onZoom.current = onWindowChange;
  const queryClient = useQueryClient();
  // the window keys step from: the last one asked for, so two presses before the page has
  // re-rendered make two steps; a new window from outside (drag, reset, URL) replaces it
  const latestWindow = useRef(win);
  useEffect(() => {
    latestWindow.current = win;
  }, [win?.min, win?.max]);
  const latestAxis = useRef(axis);
  latestAxis.current = axis;
  const mounted = useRef(false);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const [announced, setAnnounced] = useState("");

  const onKeyDown = async (e: KeyboardEvent<HTMLDivElement>) => {
    const action = chartKeyAction(e);
    if (!action) return;
    const current = latestWindow.current;
    // panning or resetting the whole range does nothing: leave those keys to the page
    if (current === null && (action === "left" || action === "right" || action === "reset")) return;
    e.preventDefault();
    let next: XWindow | null = null;
    if (action !== "reset") {
      // the data's whole x range: the answer without a window (cached unless the page was
      // opened zoomed in; then asked for once, and Reset zoom is instant afterwards)
      let all;
      try {
        all = await queryClient.ensureQueryData(optionsFor(null));
      } catch {
        return; // nothing changes; the next press asks again
      }
      // gone, or another axis or window, while the answer came
      if (!mounted.current || latestAxis.current !== axis || latestWindow.current !== current) return;
      const extent = all && all.x_min !== null && all.x_max !== null ? { min: all.x_min, max: all.x_max } : null;
      next = stepWindow(action, current, extent);
      if (next === current) return;
    }
    latestWindow.current = next;
    setAnnounced(describeWindow(axis, next));
    onZoom.current(next);
  };

  useEffect(() => {
    const el = box.current;
    if (!el || !plotData || pixels <= 0) return;
    const colors = themeColors();
    // names only label our own legend: the run names arriving later must not rebuild the plot
    const labels = plotData.series.map((s) => `${s.runId} ${s.key}`);
    const series: uPlot.Series[] = [{}];
    const bands: uPlot.Band[] = [];
    plotData.series.forEach((s, k) => {
      const color = colorRef.current(s.runId, k);
      const show = !hidden.has(k);
      series.push({ label: labels[k], stroke: color, width: 1.5, spanGaps: true, points: { show: false }, show });
      series.push({ label: `${labels[k]} min`, stroke: withAlpha(color, 0.45), width: 1, spanGaps: true, points: { show: false }, show });
      series.push({ label: `${labels[k]} max`, stroke: withAlpha(color, 0.45), width: 1, spanGaps: true, points: { show: false }, show });
      if (show) bands.push({ series: [s.max, s.min], fill: withAlpha(color, 0.16) });
    });
    const axisStyle = { stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid, width: 1 } };
    const xAxis: uPlot.Axis = { ...axisStyle };
    if (axis === "relative") {
      xAxis.incrs = RELATIVE_INCRS;
      xAxis.space = 70;
      xAxis.values = (_u, splits) => splits.map((v) => formatRelativeTick(v));
    }
    const opts: uPlot.Options = {
      width: el.clientWidth,
      height,
      series,
      bands,
      legend: { show: false },
      scales: { x: { time: axis === "wall" }, y: { distr: log ? 3 : 1 } },
      axes: [xAxis, { ...axisStyle, size: 60, values: (_u, splits) => splits.map((v) => formatNumber(v)) }],
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      hooks: {
        setSelect: [
          (u) => {
            const { left, width: w } = u.select;
            if (w < 3) return;
            const next = selectionToWindow(axis, u.posToVal(left, "x"), u.posToVal(left + w, "x"));
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (next) onZoom.current(next);
          },
        ],
        setCursor: [
          (u) => {
            const idx = u.cursor.idx;
            setHover(idx === undefined || idx === null ? null : idx);
          },
        ],
        draw: [
          (u) => {
            const list = (window.__cairnCharts ??= []);
            const entry = list.find((c) => c.plot === u);
            const drawn: DrawnChart = { keys, drawnAt: performance.now(), maxValue: plotData.maxValue, series: plotData.series.length, plot: u };
            if (entry) Object.assign(entry, { drawnAt: drawn.drawnAt, maxValue: drawn.maxValue });
            else {
              list.push(drawn);
              performance.mark("cairn-chart-drawn");
            }
          },
        ],
      },
    };
    const plot = new uPlot(opts, plotData.data as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      if (window.__cairnCharts) window.__cairnCharts = window.__cairnCharts.filter((c) => c.plot !== plot);
      plot.destroy();
    };
  }, [plotData, hidden, height, themeVersion, props.colorOf]);

  const legend = plotData?.series.map((s, k) => {
    const label = seriesLabel(s.runId, s.key, props.runNames, runs.length, keys.length);
    const col = (i: number) => (hover === null ? null : (plotData.data[i][hover] as number | null | undefined) ?? null);
    return { k, s, label, mean: col(s.mean), min: col(s.min), max: col(s.max) };
  });
  const hoverX = hover !== null && plotData ? plotData.data[0][hover] : null;
  const empty = resp !== null && resp.series.every((s) => s.count.length === 0);

  return (
    <figure className="metric-chart card" aria-label={props.title ?? keys.join(", ")}>
      <figcaption className="chart-head">
        <span className="chart-title">{props.title ?? keys.join(", ")}</span>
        <span className="chart-meta faint">
          {resp ? `${AXIS_LABELS[axis]} · ${resp.bucket_count.toLocaleString()} buckets` : ""}
          {query.isFetching ? " · loading…" : ""}
        </span>
        {win && (
          <button type="button" className="btn small" onClick={() => onWindowChange(null)}>
            Reset zoom
          </button>
        )}
      </figcaption>
      {query.isError && <div className="error-box">{String((query.error as Error).message)}</div>}
      <div
        ref={box}
        className="chart-canvas"
        style={{ minHeight: height }}
        data-testid="chart-canvas"
        tabIndex={0}
        role="application"
        aria-roledescription="chart"
        aria-label={`${props.title ?? keys.join(", ")} chart: + and − zoom, ← → pan, 0 resets`}
        onKeyDown={onKeyDown}
      />
      <span className="sr-only" aria-live="polite">
        {announced}
      </span>
      {empty && <div className="chart-empty muted">No finite points in this range.</div>}
      {legend && legend.length > (props.legendLimit ?? Infinity) && (
        <details className="chart-legend-fold">
          <summary className="faint">Legend ({legend.length.toLocaleString()} series{hoverX !== null ? ` · ${AXIS_LABELS[axis]} ${formatX(axis, hoverX)}` : ""})</summary>
          <ul className="chart-legend" aria-label="Legend">
            {legend.map(({ k, s, label, mean }) => (
              <li key={k} className="legend-item">
                <span className="swatch" style={{ background: colorOf(s.runId, k) }} />
                <span className="legend-label">{label}</span>
                <span className="legend-value mono">{mean !== null ? formatNumber(mean) : `${s.points.toLocaleString()} pts`}</span>
              </li>
            ))}
          </ul>
        </details>
      )}
      {legend && legend.length > 0 && legend.length <= (props.legendLimit ?? Infinity) && (
        <ul className="chart-legend" aria-label="Legend">
          {hoverX !== null && <li className="legend-x faint">{AXIS_LABELS[axis]}: {formatX(axis, hoverX)}</li>}
          {legend.map(({ k, s, label, mean, min, max }) => (
            <li key={k}>
              <button
                type="button"
                className={`legend-item${hidden.has(k) ? " off" : ""}`}
                aria-pressed={!hidden.has(k)}
                title={hidden.has(k) ? "Show this series" : "Hide this series"}
                onClick={() =>
                  setHidden((h) => {
                    const next = new Set(h);
                    if (next.has(k)) next.delete(k);
                    else next.add(k);
                    return next;
                  })
                }
              >
                <span className="swatch" style={{ background: colorOf(s.runId, k) }} />
                <span className="legend-label">{label}</span>
                {mean !== null ? (
                  <span className="legend-value mono">
                    {formatNumber(mean)}
                    {min !== null && max !== null && min !== max ? ` (${formatNumber(min)} – ${formatNumber(max)})` : ""}
                  </span>
                ) : (
                  <span className="legend-value faint mono">{s.points.toLocaleString()} pts</span>
                )}
                {s.nonFinite > 0 && <span className="faint"> · {s.nonFinite} NaN/∞ not drawn</span>}
              </button>
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}
