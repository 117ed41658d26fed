// Compare runs: /compare?runs=id1,id2,… (2 to 100 runs, any experiments). A params/metrics
// table that marks what differs, overlaid metric charts, parallel coordinates, a scatter of
// any field against any other and a box plot of a metric grouped by a param.
import { lazy, Suspense, useLayoutEffect, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { seriesColor } from "../../viz/theme";
import { chartLink } from "../metrics/urlState";
import { plural } from "../../lib/format";
import "../../viz/pages.css";
import { compareRuns, type CompareRunsResponse } from "./api";
import { DEFAULT_CHARTS, fetchHistory, historyKey } from "./history";
import {
  buildRows,
  columnWindow,
  formatValue,
  MAX_COMPARE_RUNS,
  metricKeys,
  parseRunIds,
  runLabel,
  singleRunKey,
  singleStepMetric,
  visibleRows,
  type CompareRun,
  type Row,
} from "./logic";

// the charts (and ECharts) load while the runs are fetched, so the table never waits for them
const CompareCharts = lazy(() => import("./CompareCharts").then((m) => ({ default: m.CompareCharts })));

export const MAX_COMPARE = MAX_COMPARE_RUNS;
/** How many metrics "Open in charts" puts on the chart page (the first by name; more can be added there). */
const CHART_KEYS = 12;

// start loading the chart code at once, in parallel with the runs
void import("./CompareCharts");

// When the app opens on /compare, ask for the runs while React is still starting up.
let early: { key: string; promise: Promise<CompareRunsResponse> } | null = null;
if (typeof window !== "undefined" && window.location.pathname === "/compare") {
  const ids = parseRunIds(new URLSearchParams(window.location.search).get("runs"));
  if (ids.length >= 2 && ids.length <= MAX_COMPARE_RUNS) {
    const promise = compareRuns(ids);
    promise.catch(() => undefined); // the query below reports the failure
    early = { key: ids.join(","), promise };
  }
}

export function ComparePage() {
  const [search] = useSearchParams();
  const ids = useMemo(() => parseRunIds(search.get("runs")), [search]);
  const tooMany = ids.length > MAX_COMPARE;
  const client = useQueryClient();
  const query = useQuery({
    queryKey: ["compare-runs", ids],
    queryFn: async ({ signal }) => {
      let data: CompareRunsResponse;
      if (early && early.key === ids.join(",")) {
        const { promise } = early;
        early = null;
        data = await promise;
      } else {
        data = await compareRuns(ids, signal);
      }
      // the first metric histories the charts will want, asked for before anything renders
      const runIds = data.runs.map((r) => r.run_id);
      for (const key of metricKeys(data.runs).slice(0, DEFAULT_CHARTS)) {
        if (!singleStepMetric(data.runs, key)) {
          void client.prefetchQuery({ queryKey: historyKey(key, runIds), queryFn: ({ signal: s }) => fetchHistory(key, runIds, s) });
        }
      }
      return data;
    },
    enabled: ids.length > 0 && !tooMany,
  });

  if (ids.length < 2 || tooMany) {
    return (
      <div className="page">
        <h1>Compare runs</h1>
        <div className="empty-state" data-testid="compare-empty">
          <p>
            {tooMany
              ? `At most ${MAX_COMPARE} runs can be compared; ${ids.length} were given.`
              : "Select 2 to 100 runs in a runs table and choose Compare, or open /compare?runs=id1,id2."}
          </p>
          <Link to="/">Experiments</Link>
        </div>
      </div>
    );
  }
  if (query.isPending) return <div className="page muted">Loading {ids.length} runs…</div>;
  if (query.isError) {
    return (
      <div className="page">
        <h1>Compare runs</h1>
        <div className="error-box" role="alert">{query.error.message}</div>
      </div>
    );
  }
  return <Comparison runs={query.data.runs} />;
}

function Comparison({ runs }: { runs: CompareRun[] }) {
  const rows = useMemo(() => buildRows(runs), [runs]);
  const experiments = useMemo(() => {
    const seen = new Map<string, string>();
    for (const r of runs) seen.set(r.experiment_id, r.experiment_name ?? r.experiment_id);
    return [...seen.entries()];
  }, [runs]);
  return (
    <div className="page" data-testid="compare-page">
      <div className="page-head">
        <h1>Comparing {plural(runs.length, "run")}</h1>
        <span className="muted">
          from{" "}
          {experiments.map(([id, name], i) => (
            <span key={id}>
              {i > 0 && ", "}
              <Link to={`/experiments/${id}`}>{name}</Link>
            </span>
          ))}
        </span>
        {metricKeys(runs).length > 0 && (
          <Link className="btn small" to={chartLink(runs.map((r) => r.run_id), metricKeys(runs).slice(0, CHART_KEYS))} data-testid="compare-open-charts">
            Open in charts
          </Link>
        )}
      </div>
      <CompareTable runs={runs} rows={rows} />
      <Suspense fallback={<p className="muted section">Loading charts…</p>}>
        <CompareCharts runs={runs} rows={rows} />
      </Suspense>
    </div>
  );
}

function RunHeader({ run, index, width }: { run: CompareRun; index: number; width: number }) {
  return (
    <th title={`${run.run_id} (${run.experiment_name ?? run.experiment_id})`} style={{ width }} aria-colindex={index + 2} data-testid="run-column">
      <span className="swatch" style={{ background: seriesColor(index) }} />
      <Link to={`/runs/${run.run_id}`}>{runLabel(run)}</Link>
    </th>
  );
}

const KEY_WIDTH = 220;
const COL_WIDTH = 132;
const MAX_COL_WIDTH = 440;

function CompareTable({ runs, rows }: { runs: CompareRun[]; rows: Row[] }) {
  const [hideEqual, setHideEqual] = useState(false);
  const [showSingles, setShowSingles] = useState(false);
  const [filter, setFilter] = useState("");
  const shown = useMemo(() => visibleRows(rows, hideEqual, filter, showSingles), [rows, hideEqual, filter, showSingles]);
  const singles = useMemo(() => rows.filter(singleRunKey).length, [rows]);
  const params = shown.filter((r) => r.kind === "param");
  const metrics = shown.filter((r) => r.kind === "metric");
  const differing = rows.filter((r) => r.differs).length;
  const runIds = useMemo(() => runs.map((r) => r.run_id), [runs]);
  // only the run columns in view (plus a few) are in the page: 100 runs x 54 rows stay light
  const [view, setView] = useState({ left: 0, width: 1400 });
  const box = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const update = () => setView((v) => (v.left === el.scrollLeft && v.width === el.clientWidth ? v : { left: el.scrollLeft, width: el.clientWidth }));
    update();
    const observer = new ResizeObserver(update);
    observer.observe(el);
    el.addEventListener("scroll", update, { passive: true });
    return () => {
      observer.disconnect();
      el.removeEventListener("scroll", update);
    };
  }, []);
  // a few runs share the width the page has (up to MAX_COL_WIDTH each); many scroll sideways
  const colWidth = Math.max(COL_WIDTH, Math.min(MAX_COL_WIDTH, Math.floor((view.width - KEY_WIDTH - 2) / Math.max(1, runs.length))));
  const { first, last } = columnWindow(view.left, view.width - KEY_WIDTH, runs.length, colWidth, 3);
  const cols = runs.slice(first, last);
  const before = first * colWidth;
  const after = (runs.length - last) * colWidth;
  const spacer = (width: number, head = false) => (width > 0 ? head ? <th aria-hidden="true" style={{ width, padding: 0 }} /> : <td aria-hidden="true" style={{ padding: 0 }} /> : null);
  const span = cols.length + (before > 0 ? 1 : 0) + (after > 0 ? 1 : 0);
  const group = (label: string, list: Row[]) =>
    list.length === 0 ? null : (
      <>
        <tr className="group">
          <td className="key">{label}</td>
          {span > 0 && <td colSpan={span} />}
        </tr>
        {list.map((row) => (
          <tr key={`${row.kind}:${row.key}`} className={row.differs ? "diff" : undefined} data-testid="compare-row" data-differs={row.differs}>
            <td className="key" title={row.key}>
              {row.kind === "metric" ? <Link to={chartLink(runIds, [row.key])}>{row.key}</Link> : row.key}
            </td>
            {spacer(before)}
            {cols.map((r, j) => {
              const v = row.values[first + j];
              return (
                <td key={r.run_id} className={typeof v === "number" ? "num" : undefined} title={v === null ? "not set" : String(v)}>
                  {formatValue(v)}
                </td>
              );
            })}
            {spacer(after)}
          </tr>
        ))}
      </>
    );
  return (
    <section className="section" aria-labelledby="cmp-table">
      <h2 id="cmp-table">Params and metrics</h2>
      <div className="toolbar">
        <label>
          <input type="checkbox" checked={hideEqual} onChange={(e) => setHideEqual(e.target.checked)} data-testid="hide-equal" />
          Hide equal rows
        </label>
        {singles > 0 && (
          <label title="Params and metrics that only one of the compared runs has">
            <input type="checkbox" checked={showSingles} onChange={(e) => setShowSingles(e.target.checked)} data-testid="show-singles" />
            Show keys only one run has ({singles})
          </label>
        )}
        <input className="input" placeholder="Filter keys" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter keys" />
        <span className="muted">
          {differing} of {rows.length} rows differ (highlighted)
        </span>
      </div>
      <div className="scroll-x" style={{ maxHeight: 520 }} ref={box} data-testid="compare-table-scroll">
        <table
          className="cmp fixed"
          data-testid="compare-table"
          data-runs={runs.length}
          aria-colcount={runs.length + 1}
          style={{ tableLayout: "fixed", width: KEY_WIDTH + runs.length * colWidth }}
        >
          <colgroup>
            <col style={{ width: KEY_WIDTH }} />
            {before > 0 && <col style={{ width: before }} />}
            {cols.map((r) => (
              <col key={r.run_id} style={{ width: colWidth }} />
            ))}
            {after > 0 && <col style={{ width: after }} />}
          </colgroup>
          <thead>
            <tr>
              <th className="key" style={{ width: KEY_WIDTH }}>
                key
              </th>
              {spacer(before, true)}
              {cols.map((r, j) => (
                <RunHeader key={r.run_id} run={r} index={first + j} width={colWidth} />
              ))}
              {spacer(after, true)}
            </tr>
          </thead>
          <tbody>
            {group("Params", params)}
            {group("Metrics", metrics)}
            {shown.length === 0 && (
              <tr>
                <td className="key muted">{hideEqual ? "Every row is equal" : "No params or metrics"}</td>
                {span > 0 && <td colSpan={span} />}
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

