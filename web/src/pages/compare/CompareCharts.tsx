// The charts of the compare view (loaded lazily with ECharts): metrics over steps (or one bar
// per run for single values), parallel coordinates with brushing, scatter, box plot.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { formatNumber, plural } from "../../lib/format";
import { useQueries } from "@tanstack/react-query";
import { DEFAULT_CHARTS, fetchHistory, historyKey, type HistoryPoint } from "./history";
import { sweepDefaults } from "./sweep";
import { EChart, type EChartsInstance } from "../../viz/EChart";
import type { ChartOption } from "../../viz/echarts";
import { axisStyle, seriesColor, useChartColors, type ChartColors } from "../../viz/theme";
import {
  defaultParallelFields,
  fieldId,
  fieldLabel,
  groupForBox,
  isNumericField,
  metricKeys,
  metricNumber,
  paramKeys,
  parallelAxes,
  parallelData,
  parseFieldId,
  runLabel,
  scatterPoints,
  singleStepMetric,
  type CompareRun,
  type Field,
  type Row,
} from "./logic";


export function CompareCharts({ runs, rows }: { runs: CompareRun[]; rows: Row[] }) {
  return (
    <>
      <MetricCharts runs={runs} />
      <ParallelView runs={runs} rows={rows} />
      <div className="grid-2 section">
        <ScatterView runs={runs} rows={rows} />
        <BoxView runs={runs} />
      </div>
    </>
  );
}

function MetricCharts({ runs }: { runs: CompareRun[] }) {
  const keys = useMemo(() => metricKeys(runs), [runs]);
  const [chosen, setChosen] = useState<string[] | null>(null);
  const selected = chosen ?? keys.slice(0, DEFAULT_CHARTS);
  const runIds = useMemo(() => runs.map((r) => r.run_id), [runs]);
  // the latest values of metrics logged at step 0 only, made once (a new array would redraw)
  const singles = useMemo(() => {
    const out = new Map<string, HistoryPoint[]>();
    for (const key of keys) {
      if (singleStepMetric(runs, key)) {
        out.set(key, runs.filter((r) => key in r.metrics).map((r) => ({ key, value: r.metrics[key], step: 0, run_id: r.run_id })));
      }
    }
    return out;
  }, [runs, keys]);
  // metrics every run logged at step 0 only need no history: their latest values are here
  const histories = useQueries({
    queries: selected.map((key) => ({
      enabled: !singles.has(key),
      queryKey: historyKey(key, runIds),
      queryFn: ({ signal }: { signal: AbortSignal }) => fetchHistory(key, runIds, signal),
    })),
  });
  const toggle = (key: string) => {
    const next = selected.includes(key) ? selected.filter((k) => k !== key) : [...selected, key];
    setChosen(next);
  };
  return (
    <section className="section" aria-labelledby="cmp-charts">
      <h2 id="cmp-charts">Metrics</h2>
      <p className="note">Metrics logged at several steps are drawn over steps, one line per run; single values as one bar per run.</p>
      {keys.length === 0 ? (
        <p className="muted">These runs logged no metrics.</p>
      ) : (
        <>
          <div className="toolbar" role="group" aria-label="Metrics to chart">
            {keys.map((k) => (
              <label key={k}>
                <input type="checkbox" checked={selected.includes(k)} onChange={() => toggle(k)} />
                <span className="mono">{k}</span>
              </label>
            ))}
          </div>
          <div className="grid-2">
            {selected.map((key, i) => {
              const h = histories[i];
              const points: HistoryPoint[] | undefined = singles.get(key) ?? h.data?.metrics;
              return (
                <div className="chart-card" key={key}>
                  <h3>{key}</h3>
                  {h.isError ? (
                    <div className="error-box">{h.error.message}</div>
                  ) : points || h.data ? (
                    <HistoryChart runs={runs} metric={key} points={points ?? []} />
                  ) : (
                    <div className="muted" style={{ height: 260 }}>Loading…</div>
                  )}
                </div>
              );
            })}
          </div>
        </>
      )}
    </section>
  );
}

function HistoryChart({ runs, metric, points }: { runs: CompareRun[]; metric: string; points: HistoryPoint[] }) {
  const colors = useChartColors();
  const option = useMemo<ChartOption>(() => {
    const byRun = new Map<string, [number, number | null][]>();
    for (const p of points) {
      const v = metricNumber(p.value);
      const list = byRun.get(p.run_id) ?? [];
      list.push([p.step, v === null || !Number.isFinite(v) ? null : v]);
      byRun.set(p.run_id, list);
    }
    const single = [...byRun.values()].every((list) => list.length <= 1);
    if (single) {
      // one value per run (a final score): bars, one per run, read better than dots at step 0
      const shown = runs.filter((r) => byRun.has(r.run_id));
      return {
        grid: { left: 56, right: 16, top: 16, bottom: 40 },
        tooltip: { trigger: "axis", confine: true },
        // beyond 20 runs the names would not fit; the tooltip names each bar
        xAxis: {
          type: "category",
          data: shown.map(runLabel),
          ...axisStyle(colors),
          axisTick: { show: shown.length <= 20 },
          axisLabel: { show: shown.length <= 20, color: colors.muted, rotate: shown.length > 6 ? 40 : 0, fontSize: 10 },
        },
        // bars start at zero (a bar cut at the axis minimum would read as no value)
        yAxis: { type: "value", ...axisStyle(colors) },
        series: [
          {
            type: "bar",
            name: metric,
            barMaxWidth: 40,
            data: shown.map((r) => ({ value: byRun.get(r.run_id)?.[0]?.[1] ?? null, itemStyle: { color: seriesColor(runs.indexOf(r)) } })),
          },
        ],
      };
    }
    return {
      grid: { left: 56, right: 16, top: 16, bottom: 32 },
      tooltip: { trigger: "axis", confine: true, order: "valueDesc" },
      xAxis: { type: "value", name: "step", nameLocation: "middle", nameGap: 22, scale: true, ...axisStyle(colors) },
      yAxis: { type: "value", scale: true, ...axisStyle(colors) },
      series: runs.map((r, i) => {
        const data = byRun.get(r.run_id) ?? [];
        return {
          name: runLabel(r),
          type: "line",
          data,
          showSymbol: data.length <= 30 && runs.length <= 10,
          symbolSize: 5,
          sampling: "lttb",
          lineStyle: { width: 1.5 },
          color: seriesColor(i),
        };
      }),
    };
  }, [runs, points, colors, metric]);
  return <EChart option={option} height={260} label={`${metric} over steps, one line per run`} testId={`metric-chart-${metric}`} />;
}

function allFields(rows: Row[]): Field[] {
  return rows.map(({ kind, key }) => ({ kind, key }));
}

function FieldSelect({ label, fields, value, onChange, testId }: { label: string; fields: Field[]; value: Field | null; onChange: (f: Field) => void; testId?: string }) {
  return (
    <label>
      {label}
      <select
        className="input"
        value={value ? fieldId(value) : ""}
        data-testid={testId}
        onChange={(e) => {
          const f = parseFieldId(e.target.value);
          if (f) onChange(f);
        }}
      >
        {fields.map((f) => (
          <option key={fieldId(f)} value={fieldId(f)}>
            {fieldLabel(f)}
          </option>
        ))}
      </select>
    </label>
  );
}

function ParallelView({ runs, rows }: { runs: CompareRun[]; rows: Row[] }) {
  const colors = useChartColors();
  const fields = useMemo(() => defaultParallelFields(rows), [rows]);
  const metricFields = useMemo(() => metricKeys(runs).map((key): Field => ({ kind: "metric", key })), [runs]);
  const [colorBy, setColorBy] = useState<Field | null>(null);
  const colour = colorBy ?? metricFields[0] ?? null;
  // the runs inside the brushes, with the option they were brushed on: a new option (another
  // colour, theme or run set) is drawn afresh without the brushes, so their list goes too
  const [brushed, setBrushed] = useState<{ option: ChartOption; runs: number[] } | null>(null);
  const axes = useMemo(() => parallelAxes(runs, fields), [runs, fields]);
  const option = useMemo<ChartOption>(() => {
    const data = parallelData(runs, axes);
    const colourValues = colour ? runs.map((r) => metricNumber(r.metrics[colour.key])) : [];
    const finite = colourValues.filter((v): v is number => v !== null && Number.isFinite(v));
    const dims = axes.length;
    const withColour = data.map((row, i) => [...row, colourValues[i] ?? null]);
    return {
      parallel: { left: 48, right: 96, top: 40, bottom: 32, parallelAxisDefault: { nameLocation: "end", nameGap: 12, nameTextStyle: { color: colors.muted, fontSize: 11 }, axisLabel: { color: colors.muted, fontSize: 10 }, axisLine: { lineStyle: { color: colors.border } }, realtime: true, areaSelectStyle: { width: 18 } } },
      parallelAxis: axes.map((a) => ({
        dim: a.dim,
        name: a.name.length > 18 ? `${a.name.slice(0, 17)}…` : a.name,
        type: a.type,
        data: a.data,
        scale: a.type === "value",
      })),
      tooltip: { show: false },
      visualMap:
        finite.length > 0
          ? {
              type: "continuous",
              dimension: dims,
              min: Math.min(...finite),
              max: Math.max(...finite),
              right: 8,
              top: "middle",
              itemHeight: 160,
              calculable: true,
              text: [colour?.key ?? "", ""],
              // ECharts rounds the handles' labels to whole numbers unless told: 0.87, not 1
              formatter: (v: unknown) => (typeof v === "number" ? formatNumber(Number(v.toPrecision(4))) : String(v)),
              textStyle: { color: colors.muted },
              inRange: { color: ["#4575b4", "#91bfdb", "#fee090", "#fc8d59", "#d73027"] },
              seriesIndex: 0,
            }
          : undefined,
      series: [
        {
          type: "parallel",
          lineStyle: { width: 1.5, opacity: 0.75 },
          inactiveOpacity: 0.05,
          activeOpacity: 1,
          smooth: false,
          data: withColour,
        },
      ],
    };
  }, [runs, axes, colour, colors]);
  const selected = brushed?.option === option ? brushed.runs : null;
  const onEvents = useMemo(
    () => ({
      axisareaselected: (_p: unknown, chart: EChartsInstance) => {
        // the runs inside every brushed interval
        const model = (chart as unknown as { getModel(): { getSeries(): { getRawIndicesByActiveState(s: string): number[] }[] } }).getModel();
        const active = model.getSeries()[0]?.getRawIndicesByActiveState("active") ?? [];
        setBrushed(active.length === runs.length ? null : { option, runs: active });
      },
    }),
    [runs.length, option],
  );
  return (
    <section className="section" aria-labelledby="cmp-parallel">
      <h2 id="cmp-parallel">Parallel coordinates</h2>
      <div className="toolbar">
        {metricFields.length > 0 && <FieldSelect label="Colour by" fields={metricFields} value={colour} onChange={setColorBy} testId="parallel-color" />}
        <span className="note">Drag along an axis to brush; only the runs inside every brush stay highlighted.</span>
      </div>
      <div className="chart-card">
        {axes.length === 0 ? <p className="muted">Nothing to draw.</p> : <EChart option={option} height={360} label="Parallel coordinates of params and metrics" testId="parallel-chart" onEvents={onEvents} />}
      </div>
      {selected && (
        <div className="toolbar" data-testid="brushed-runs" style={{ marginTop: 8 }}>
          <span className="muted">{plural(selected.length, "run")} in the brushed range:</span>
          <span className="chips">
            {selected.slice(0, 30).map((i) => (
              <Link key={runs[i].run_id} className="chip" to={`/runs/${runs[i].run_id}`}>
                <span className="swatch" style={{ background: seriesColor(i) }} />
                {runLabel(runs[i])}
              </Link>
            ))}
            {selected.length > 30 && <span className="muted">and {selected.length - 30} more</span>}
          </span>
        </div>
      )}
    </section>
  );
}

function valueAxis(runs: CompareRun[], f: Field, colors: ChartColors, extra: object) {
  const numeric = isNumericField(runs, f);
  if (numeric) return { type: "value", scale: true, name: f.key, ...axisStyle(colors), ...extra };
  const cats = [...new Set(runs.map((r) => r.params[f.key]).filter((v): v is string => v !== undefined))].sort((a, b) =>
    a.localeCompare(b, undefined, { numeric: true }),
  );
  return { type: "category", data: cats, name: f.key, ...axisStyle(colors), ...extra };
}

function ScatterView({ runs, rows }: { runs: CompareRun[]; rows: Row[] }) {
  const colors = useChartColors();
  const fields = useMemo(() => allFields(rows), [rows]);
  const defaults = useMemo(() => {
    // a sweep's objective against the param that moves it most (compare/sweep.ts)
    const sweep = sweepDefaults(runs);
    const numeric = fields.filter((f) => isNumericField(runs, f));
    const param = sweep.x ?? numeric.find((f) => f.kind === "param") ?? fields[0] ?? null;
    const metric = sweep.y ?? numeric.find((f) => f.kind === "metric") ?? fields[1] ?? fields[0] ?? null;
    return { x: param, y: metric };
  }, [fields, runs]);
  const [x, setX] = useState<Field | null>(null);
  const [y, setY] = useState<Field | null>(null);
  const fx = x ?? defaults.x;
  const fy = y ?? defaults.y;
  const option = useMemo<ChartOption | null>(() => {
    if (!fx || !fy) return null;
    const pts = scatterPoints(runs, fx, fy);
    return {
      grid: { left: 64, right: 16, top: 24, bottom: 48 },
      tooltip: {
        trigger: "item",
        confine: true,
        formatter: (p: { data: [unknown, unknown, number] }) => `${runLabel(runs[p.data[2]])}<br/>${fx.key}: ${p.data[0]}<br/>${fy.key}: ${p.data[1]}`,
      },
      xAxis: valueAxis(runs, fx, colors, { nameLocation: "middle", nameGap: 28 }),
      yAxis: valueAxis(runs, fy, colors, { nameLocation: "end" }),
      series: [
        {
          type: "scatter",
          symbolSize: 9,
          data: pts.map((p) => ({ value: [p.x, p.y, p.runIndex], itemStyle: { color: seriesColor(p.runIndex) } })),
        },
      ],
    };
  }, [runs, fx, fy, colors]);
  return (
    <section className="chart-card" aria-labelledby="cmp-scatter">
      <h2 id="cmp-scatter">Scatter</h2>
      <div className="toolbar">
        <FieldSelect label="x" fields={fields} value={fx} onChange={setX} testId="scatter-x" />
        <FieldSelect label="y" fields={fields} value={fy} onChange={setY} testId="scatter-y" />
      </div>
      {option ? <EChart option={option} height={320} label={`Scatter of ${fy?.key} against ${fx?.key}`} testId="scatter-chart" /> : <p className="muted">Nothing to draw.</p>}
    </section>
  );
}

function BoxView({ runs }: { runs: CompareRun[] }) {
  const colors = useChartColors();
  const metrics = useMemo(() => metricKeys(runs), [runs]);
  const params = useMemo(() => paramKeys(runs), [runs]);
  const sweep = useMemo(() => sweepDefaults(runs), [runs]);
  const defaultParam = useMemo(() => {
    // the param whose groups' medians of the sweep's metric differ most (compare/sweep.ts);
    // else the one with the fewest distinct values above one
    if (sweep.boxParam) return sweep.boxParam;
    let best: string | null = null;
    let bestCount = Infinity;
    for (const p of params) {
      const n = new Set(runs.map((r) => r.params[p])).size;
      if (n > 1 && n < bestCount) {
        best = p;
        bestCount = n;
      }
    }
    return best ?? params[0] ?? null;
  }, [params, runs, sweep]);
  const [metric, setMetric] = useState<string | null>(null);
  const [param, setParam] = useState<string | null>(null);
  const m = metric ?? sweep.metric ?? metrics[0] ?? null;
  const p = param ?? defaultParam;
  const option = useMemo<ChartOption | null>(() => {
    if (!m || !p) return null;
    const groups = groupForBox(runs, m, p);
    const strip: { value: [number, number]; itemStyle: { color: string }; name: string }[] = [];
    groups.forEach((g, gi) => {
      g.values.forEach((v, j) => {
        const jitter = g.values.length > 1 ? (((j * 0.618) % 1) - 0.5) * 0.4 : 0;
        strip.push({ value: [gi + jitter, v], itemStyle: { color: seriesColor(g.runIndexes[j]) }, name: runLabel(runs[g.runIndexes[j]]) });
      });
    });
    return {
      grid: { left: 64, right: 16, top: 24, bottom: 56 },
      tooltip: { trigger: "item", confine: true },
      xAxis: [
        { type: "category", data: groups.map((g) => g.name), name: p, nameLocation: "middle", nameGap: 32, ...axisStyle(colors) },
        { type: "value", min: -0.5, max: Math.max(groups.length - 0.5, 0.5), show: false },
      ],
      yAxis: { type: "value", scale: true, name: m, ...axisStyle(colors) },
      series: [
        {
          type: "boxplot",
          name: m,
          data: groups.map((g) => g.box),
          itemStyle: { color: colors.dark ? "rgba(110,162,255,0.15)" : "rgba(39,96,196,0.08)", borderColor: colors.accent },
        },
        { type: "scatter", name: "runs", xAxisIndex: 1, symbolSize: 6, data: strip, tooltip: { formatter: (q: { name: string; value: [number, number] }) => `${q.name}: ${q.value[1]}` } },
      ],
    };
  }, [runs, m, p, colors]);
  return (
    <section className="chart-card" aria-labelledby="cmp-box">
      <h2 id="cmp-box">Metric by param</h2>
      <div className="toolbar">
        <label>
          metric
          <select className="input" value={m ?? ""} onChange={(e) => setMetric(e.target.value)} data-testid="box-metric">
            {metrics.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          grouped by
          <select className="input" value={p ?? ""} onChange={(e) => setParam(e.target.value)} data-testid="box-param">
            {params.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
      </div>
      {option ? <EChart option={option} height={320} label={`Box plot of ${m} grouped by ${p}`} testId="box-chart" /> : <p className="muted">Needs at least one metric and one param.</p>}
    </section>
  );
}
