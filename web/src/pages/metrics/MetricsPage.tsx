// /metrics?runs=…&keys=…&x=step: one chart per metric key over the chosen runs. Everything
// (axis, smoothing, log scale, zoom window) is in the URL, so a view can be shared.
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { useQueries } from "@tanstack/react-query";
import { getRun } from "../../api/mlflow";
import { MetricChart } from "../../charts/MetricChart";
import { AXIS_LABELS } from "../../charts/axes";
import { sliderToWeight } from "../../charts/smoothing";
import type { XAxis, XWindow } from "../../charts/types";
import { chartSearch, parseChartState, type ChartState } from "./urlState";
import "./metrics.css";

export function MetricsPage() {
  const [search, setSearch] = useSearchParams();
  const state = useMemo(() => parseChartState(search), [search]);
  const update = (patch: Partial<ChartState>) => setSearch(chartSearch({ ...state, ...patch }), { replace: true });

  const runQueries = useQueries({
    queries: state.runs.map((runId) => ({
      queryKey: ["run", runId],
      queryFn: ({ signal }: { signal: AbortSignal }) => getRun(runId, signal),
    })),
  });
  const runNames = useMemo(() => {
    const names: Record<string, string> = {};
    runQueries.forEach((q, i) => {
      const info = q.data?.run.info;
      if (info) names[state.runs[i]] = info.run_name || info.run_id.slice(0, 8);
    });
    return names;
  }, [runQueries, state.runs]);
  const available = useMemo(() => {
    const keys = new Set<string>();
    for (const q of runQueries) for (const m of q.data?.run.data.metrics ?? []) keys.add(m.key);
    return Array.from(keys).sort();
  }, [runQueries]);
  const missingRuns = runQueries.map((q, i) => (q.isError ? state.runs[i] : null)).filter(Boolean);
  const weight = sliderToWeight(state.smooth);
  const setWindow = (w: XWindow | null) => update({ window: w });

  if (state.runs.length === 0) {
    return (
      <div className="page">
        <div className="empty-state">
          <h2>No runs chosen</h2>
          <p>
            Open a run and click a metric, or pick runs in an experiment's runs table and compare them. The address of
            this page names the runs and metrics:
          </p>
          <pre>/metrics?runs=&lt;run id&gt;,&lt;run id&gt;&amp;keys=loss,accuracy&amp;x=step</pre>
        </div>
      </div>
    );
  }
  const keys = state.keys.length ? state.keys : available;

  return (
    <div className="page metrics-page">
      <h1>Metric charts</h1>
      <p className="muted run-chips">
        {state.runs.map((r) => (
          <Link key={r} to={`/runs/${r}`} className="run-chip">
            {runNames[r] ?? r.slice(0, 8)}
          </Link>
        ))}
      </p>
      {missingRuns.length > 0 && <div className="error-box">Unknown run: {missingRuns.join(", ")}</div>}
      <div className="chart-controls card" role="group" aria-label="Chart settings">
        <label>
          X axis{" "}
          <select className="input" value={state.axis} onChange={(e) => update({ axis: e.target.value as XAxis, window: null })}>
            {(Object.keys(AXIS_LABELS) as XAxis[]).map((a) => (
              <option key={a} value={a}>
                {AXIS_LABELS[a]}
              </option>
            ))}
          </select>
        </label>
        <label className="smooth">
          Smoothing{" "}
          <input
            type="range"
            min={0}
            max={100}
            value={state.smooth}
            aria-label="Smoothing"
            onChange={(e) => update({ smooth: Number(e.target.value) })}
          />
          <span className="mono">{weight.toFixed(2)}</span>
        </label>
        <label>
          <input type="checkbox" checked={state.log} onChange={(e) => update({ log: e.target.checked })} /> Log scale
        </label>
        <span className="faint hint">Drag across a chart to zoom in at full detail; or focus it: + − zoom, ← → pan, 0 resets.</span>
      </div>
      {available.length > 0 && (
        <fieldset className="key-picker">
          <legend>Metrics</legend>
          {available.map((k) => (
            <label key={k}>
              <input
                type="checkbox"
                checked={keys.includes(k)}
                onChange={(e) => {
                  const next = e.target.checked ? [...keys, k] : keys.filter((x) => x !== k);
                  update({ keys: available.filter((a) => next.includes(a)) });
                }}
              />{" "}
              {k}
            </label>
          ))}
        </fieldset>
      )}
      {keys.length === 0 && runQueries.every((q) => q.isSuccess) && (
        <div className="empty-state">
          <h2>No metrics yet</h2>
          <p>These runs have not logged any metric. Log one with <code>mlflow.log_metric("loss", 0.5, step=1)</code>.</p>
        </div>
      )}
      {keys.map((key) => (
        <MetricChart
          key={key}
          title={key}
          runs={state.runs}
          keys={[key]}
          runNames={runNames}
          axis={state.axis}
          smoothing={weight}
          log={state.log}
          window={state.window}
          onWindowChange={setWindow}
        />
      ))}
    </div>
  );
}
