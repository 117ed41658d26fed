// The experiment's chart view (the runs page's "Charts" toggle): a chart per metric over the
// runs of the current filter (or the selection), drawn by the metrics page's own MetricChart
// (downsampled min/max bands, drag or keys to zoom, which re-fetches), in the runs' table
// colours. Loaded lazily: the runs table's first render never pays for chart code.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import { MetricChart } from "../../charts/MetricChart";
import { AXIS_LABELS } from "../../charts/axes";
import type { XAxis, XWindow } from "../../charts/types";
import { chartLink } from "../metrics/urlState";
import { chartRuns, chartSections, COLUMN_CHOICES, parseSettings, RUN_LIMITS, settingsKey, type ChartSettings } from "./chartView";
import { runColor, toggled, type RunPrefs } from "./runPrefs";
import { EyeIcon, PinIcon } from "./icons";
import "./chartView.css";

export interface ChartViewProps {
  experimentId: string;
  /** the runs of the current filter, in the table's order */
  runs: { id: string; name: string; status: string }[];
  selected: string[];
  metricKeys: string[];
  prefs: RunPrefs;
  updatePrefs: (fn: (p: RunPrefs) => RunPrefs) => void;
  hasMore: boolean;
  /** a next page of runs is on its way */
  loadingMore: boolean;
  onLoadMore: () => void;
}

const CHART_HEIGHT = 220;
const GAP = 12;

/** Mounts its chart only once it is near the screen: a page of twenty charts asks for the few
 * on screen first, the others as the user scrolls to them. */
function WhenVisible({ height, children }: { height: number; children: React.ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || seen) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setSeen(true);
    }, { rootMargin: "300px 0px" });
    io.observe(el);
    return () => io.disconnect();
  }, [seen]);
  return (
    <div ref={ref} className="chart-slot" style={seen ? undefined : { minHeight: height + 60 }}>
      {seen ? children : null}
    </div>
  );
}

function useSettings(experimentId: string): [ChartSettings, (patch: Partial<ChartSettings>) => void] {
  const key = settingsKey(experimentId);
  const [settings, setSettings] = useState(() => parseSettings(localStorage.getItem(key)));
  useEffect(() => setSettings(parseSettings(localStorage.getItem(key))), [key]);
  const update = useCallback(
    (patch: Partial<ChartSettings>) =>
      setSettings((cur) => {
        const next = { ...cur, ...patch };
        try {
          localStorage.setItem(key, JSON.stringify(next));
        } catch {
          // storage full or off: the settings last for this page
        }
        return next;
      }),
    [key],
  );
  return [settings, update];
}

export function ChartView(props: ChartViewProps) {
  const { experimentId, runs, selected, metricKeys, prefs, updatePrefs } = props;
  const [settings, update] = useSettings(experimentId);
  const [search, setSearch] = useState("");
  const [window_, setWindow] = useState<XWindow | null>(null);
  const [picking, setPicking] = useState(false);
  const grid = useRef<HTMLDivElement>(null);
  const [gridWidth, setGridWidth] = useState(() => Math.max(320, window.innerWidth - 340));
  useEffect(() => {
    const el = grid.current;
    if (!el) return;
    setGridWidth(el.clientWidth);
    const ro = new ResizeObserver(() => setGridWidth(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const ids = useMemo(() => runs.map((r) => r.id), [runs]);
  const names = useMemo(() => Object.fromEntries(runs.map((r) => [r.id, r.name])), [runs]);
  const { runs: drawn, candidates } = useMemo(
    () => chartRuns(ids, selected, prefs.pinned, prefs.hidden, settings.maxRuns),
    [ids, selected, prefs.pinned, prefs.hidden, settings.maxRuns],
  );
  const sections = useMemo(() => chartSections(metricKeys, settings.metrics, search), [metricKeys, settings.metrics, search]);
  // one function per colour set, so the charts redraw (not refetch) when a colour changes
  const colorOf = useCallback((runId: string) => runColor(prefs, runId), [prefs.colors]);

  // the runs of the filter beyond the first page are loaded while fewer than the limit are here
  const { hasMore, loadingMore, onLoadMore } = props;
  useEffect(() => {
    if (hasMore && !selected.length && ids.length < settings.maxRuns) onLoadMore();
  }, [hasMore, ids.length, selected.length, settings.maxRuns, onLoadMore]);
  // until then the charts wait: drawing the first page's 50 runs first would ask the server
  // for every series twice (and the metric keys may still grow)
  const filling = !selected.length && ids.length < settings.maxRuns && (hasMore || loadingMore);

  const columns = Math.max(1, Math.min(settings.columns, Math.floor((gridWidth + GAP) / 300) || 1));
  const chartPixels = Math.floor((gridWidth - (columns - 1) * GAP) / columns) - 26;

  const chart = (key: string) =>
    filling ? (
      <div key={key} className="chart-slot chart-waiting muted" style={{ minHeight: CHART_HEIGHT + 60 }}>
        Loading runs…
      </div>
    ) : (
      <WhenVisible key={key} height={CHART_HEIGHT}>
        <MetricChart
          title={key}
          runs={drawn}
          keys={[key]}
          runNames={names}
          axis={settings.axis}
          smoothing={0}
          log={false}
          window={window_}
          onWindowChange={setWindow}
          height={CHART_HEIGHT}
          colorOf={colorOf}
          legendLimit={8}
          initialPixels={chartPixels}
        />
      </WhenVisible>
    );
  const section = (title: string, keys: string[], testid: string) =>
    keys.length > 0 && (
      <section className="chart-section" data-testid={testid} aria-label={title}>
        <h2>
          {title} <span className="faint">({keys.length})</span>
        </h2>
        <div className="chart-grid" style={{ gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))` }}>
          {keys.map(chart)}
        </div>
      </section>
    );

  const hiddenSet = new Set(prefs.hidden);
  const pinnedSet = new Set(prefs.pinned);
  const chosen = settings.metrics;
  return (
    <div className="chart-view" data-testid="chart-view">
      <aside className="chart-runs card" aria-label="Runs in the charts">
        <div className="chart-runs-head">
          <strong>{selected.length ? "Selected runs" : "Runs"}</strong>
          <span className="faint" data-testid="charted-count">
            {drawn.length.toLocaleString()} of {candidates.length.toLocaleString()}
            {hasMore && !selected.length ? "+" : ""} drawn
          </span>
        </div>
        <ul className="chart-run-list">
          {candidates.map((id) => {
            const off = hiddenSet.has(id);
            const pinned = pinnedSet.has(id);
            return (
              <li key={id} className={`${off ? "off" : ""} ${pinned ? "pinned-run" : ""}`} data-run-id={id}>
                <label className="run-swatch" title="Colour of this run in the table and the charts" style={{ background: runColor(prefs, id) }}>
                  <input
                    type="color"
                    aria-label={`Colour of ${names[id]}`}
                    value={runColor(prefs, id)}
                    onChange={(e) => updatePrefs((p) => ({ ...p, colors: { ...p.colors, [id]: e.target.value } }))}
                  />
                </label>
                <Link to={`/runs/${id}`} className="chart-run-name" title={names[id]}>
                  {names[id]}
                </Link>
                <button
                  type="button"
                  className={`icon-btn${pinned ? " on" : ""}`}
                  aria-pressed={pinned}
                  aria-label={`${pinned ? "Unpin" : "Pin"} ${names[id]}`}
                  title={pinned ? "Unpin (pinned runs come first, in the table too)" : "Pin to the top (always drawn)"}
                  onClick={() => updatePrefs((p) => ({ ...p, pinned: toggled(p.pinned, id) }))}
                >
                  <PinIcon filled={pinned} />
                </button>
                <button
                  type="button"
                  className={`icon-btn${off ? "" : " on"}`}
                  aria-pressed={!off}
                  aria-label={`${off ? "Show" : "Hide"} ${names[id]} in the charts`}
                  title={off ? "Show in the charts" : "Hide from the charts"}
                  onClick={() => updatePrefs((p) => ({ ...p, hidden: toggled(p.hidden, id) }))}
                >
                  <EyeIcon open={!off} />
                </button>
              </li>
            );
          })}
        </ul>
      </aside>
      <div className="chart-main">
        <div className="chart-toolbar" role="group" aria-label="Chart view settings">
          <input
            className="input chart-search"
            type="search"
            placeholder="Search charts"
            title="Words that must all appear in the metric key, or a /regular expression/"
            aria-label="Search charts"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <button type="button" className="btn" aria-expanded={picking} onClick={() => setPicking(!picking)} data-testid="chart-metrics-toggle">
            Metrics ({chosen === null ? metricKeys.length : metricKeys.filter((k) => chosen.includes(k)).length}/{metricKeys.length})
          </button>
          <label>
            Columns{" "}
            <select className="input" aria-label="Columns" value={settings.columns} onChange={(e) => update({ columns: Number(e.target.value) })}>
              {COLUMN_CHOICES.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </label>
          <label>
            X axis{" "}
            <select className="input" aria-label="X axis" value={settings.axis} onChange={(e) => { update({ axis: e.target.value as XAxis }); setWindow(null); }}>
              {(Object.keys(AXIS_LABELS) as XAxis[]).map((a) => (
                <option key={a} value={a}>
                  {AXIS_LABELS[a]}
                </option>
              ))}
            </select>
          </label>
          <label>
            Runs{" "}
            <select className="input" aria-label="Runs drawn" value={settings.maxRuns} onChange={(e) => update({ maxRuns: Number(e.target.value) })}>
              {RUN_LIMITS.map((n) => (
                <option key={n} value={n}>
                  {n.toLocaleString()}
                </option>
              ))}
            </select>
          </label>
          {window_ && (
            <button type="button" className="btn" onClick={() => setWindow(null)}>
              Reset zoom
            </button>
          )}
          {drawn.length > 0 && (
            <Link className="btn ghost" to={chartLink(drawn.slice(0, 20), [...sections.model, ...sections.system].slice(0, 10), settings.axis)}>
              Open in metrics page
            </Link>
          )}
        </div>
        {picking && (
          <fieldset className="key-picker card" data-testid="chart-metric-picker">
            <legend>Metrics with a chart (remembered for this experiment)</legend>
            <div className="key-picker-actions">
              <button type="button" className="btn small" onClick={() => update({ metrics: null })}>
                All
              </button>
              <button type="button" className="btn small" onClick={() => update({ metrics: [] })}>
                None
              </button>
            </div>
            {metricKeys.map((k) => (
              <label key={k}>
                <input
                  type="checkbox"
                  checked={chosen === null || chosen.includes(k)}
                  onChange={() => update({ metrics: toggled(chosen ?? metricKeys, k) })}
                />{" "}
                {k}
              </label>
            ))}
          </fieldset>
        )}
        <div ref={grid} className="chart-sections">
          {drawn.length === 0 && <div className="empty-state muted">No runs to draw: every run is hidden, or none matches the filter.</div>}
          {drawn.length > 0 && metricKeys.length === 0 && <div className="empty-state muted">These runs have logged no metric yet.</div>}
          {drawn.length > 0 && metricKeys.length > 0 && sections.model.length + sections.system.length === 0 && (
            <div className="empty-state muted" data-testid="no-charts">No chart matches “{search}”.</div>
          )}
          {drawn.length > 0 && section("Model metrics", sections.model, "model-charts")}
          {drawn.length > 0 && section("System metrics", sections.system, "system-charts")}
        </div>
      </div>
    </div>
  );
}
