// /datasets/:id: schema, profile (label distribution, numeric and text-length statistics)
// and lineage as a graph whose nodes open the run and model-version pages.
import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { EChart, type EChartsInstance } from "../../viz/EChart";
import type { ChartOption } from "../../viz/echarts";
import { axisStyle, useChartColors, type ChartColors } from "../../viz/theme";
import "../../viz/pages.css";
import { formatValue } from "../compare/logic";
import { Crumbs, ErrorText } from "../../lib/widgets";
import type { NumericStats } from "../../lib/profile";
import { StatsTable, STAT_KEYS } from "../../viz/StatsTable";
import { getExperiment } from "../../api/mlflow";
import { plural } from "../../lib/format";
import { asProfile, getLineage, schemaColumns, sourceText, type Lineage } from "./api";
import { buildLineage, layout, type NodeKind } from "./lineage";

const TRAIL = [{ to: "/datasets", label: "Datasets" }];
const RUN_LINKS = 8;

/** The experiment a dataset belongs to, by name (its id until the name is known). */
function ExperimentLink({ id }: { id: string }) {
  const q = useQuery({ queryKey: ["experiment", id], queryFn: ({ signal }) => getExperiment(id, signal) });
  return (
    <Link to={`/experiments/${id}`} data-testid="dataset-experiment">
      {q.data?.name ?? `experiment ${id}`}
    </Link>
  );
}

export function DatasetPage() {
  const { id = "" } = useParams();
  const q = useQuery({ queryKey: ["dataset", id], queryFn: () => getLineage(id) });
  if (q.isError) {
    return (
      <div className="page">
        <Crumbs trail={TRAIL} />
        <ErrorText error={q.error} />
      </div>
    );
  }
  if (!q.data) return <div className="page muted">Loading…</div>;
  const d = q.data.dataset;
  const profile = asProfile(d.profile);
  const columns = schemaColumns(d.schema);
  return (
    <div className="page" data-testid="dataset-page">
      <Crumbs trail={TRAIL} />
      <div className="page-head">
        <h1>{d.name}</h1>
        <span className="muted mono">{d.digest}</span>
      </div>
      <div className="grid-2 section">
        <div className="card box">
          <dl className="kv">
            <dt>Source</dt>
            <dd className="mono">
              <span className="muted">{d.source_type}</span> {sourceText(d.source)}
            </dd>
            <dt>Rows</dt>
            <dd>{d.num_rows?.toLocaleString() ?? "—"}</dd>
            {profile?.num_elements !== undefined && (
              <>
                <dt>Elements</dt>
                <dd>{profile.num_elements.toLocaleString()}</dd>
              </>
            )}
            {profile?.targets && (
              <>
                <dt>Target</dt>
                <dd className="mono">{profile.targets}</dd>
              </>
            )}
            <dt>Experiment</dt>
            <dd>
              <ExperimentLink id={d.experiment_id} />
            </dd>
            <dt>Used by</dt>
            <dd data-testid="dataset-runs">
              {plural(d.run_count, "run")}
              {q.data.runs.length > 0 && ": "}
              {q.data.runs.slice(0, RUN_LINKS).map((r, i) => (
                <span key={r.run_id}>
                  {i > 0 && ", "}
                  <Link to={`/runs/${r.run_id}`} data-testid="dataset-run-link">
                    {r.run_name || r.run_id.slice(0, 8)}
                  </Link>
                  {r.context && <span className="muted"> ({r.context})</span>}
                </span>
              ))}
              {q.data.runs.length > RUN_LINKS && <span className="muted"> and {q.data.runs.length - RUN_LINKS} more (in the lineage below)</span>}
            </dd>
            {q.data.model_versions.length > 0 && (
              <>
                <dt>Registered</dt>
                <dd data-testid="dataset-versions">
                  {q.data.model_versions.slice(0, RUN_LINKS).map((v, i) => (
                    <span key={`${v.name}/${v.version}`}>
                      {i > 0 && ", "}
                      <Link to={`/models/${encodeURIComponent(v.name)}/versions/${v.version}`}>
                        {v.name} v{v.version}
                      </Link>
                    </span>
                  ))}
                  {q.data.model_versions.length > RUN_LINKS && <span className="muted"> and {q.data.model_versions.length - RUN_LINKS} more</span>}
                </dd>
              </>
            )}
          </dl>
          <h3 style={{ marginTop: 12 }}>Schema</h3>
          {columns.length === 0 ? (
            <p className="muted">No schema recorded.</p>
          ) : (
            <table className="data-table" data-testid="schema-table">
              <thead>
                <tr>
                  <th>Column</th>
                  <th>Type</th>
                </tr>
              </thead>
              <tbody>
                {columns.map((c) => (
                  <tr key={c.name}>
                    <td className="mono">{c.name}</td>
                    <td className="mono">
                      {c.type}
                      {c.required === false ? " (optional)" : ""}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <LabelChart distribution={profile?.label_distribution ?? null} target={profile?.targets ?? null} />
      </div>
      <ColumnStats title="Numeric columns" stats={profile?.numeric} keys={STAT_KEYS} testId="numeric-stats" />
      <ColumnStats title="Text length (characters)" stats={profile?.text_length} keys={["count", "nulls", "min", "max", "mean", "p50"]} testId="text-stats" />
      <LineageGraph data={q.data} />
    </div>
  );
}

function LabelChart({ distribution, target }: { distribution: Record<string, number> | null; target: string | null }) {
  const colors = useChartColors();
  const option = useMemo<ChartOption | null>(() => {
    if (!distribution) return null;
    const entries = Object.entries(distribution).sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }));
    return {
      grid: { left: 56, right: 16, top: 32, bottom: 48 },
      tooltip: { trigger: "axis", confine: true },
      xAxis: { type: "category", data: entries.map(([k]) => k), name: target ?? "label", nameLocation: "middle", nameGap: 30, ...axisStyle(colors) },
      yAxis: { type: "value", name: "rows", ...axisStyle(colors) },
      series: [{ type: "bar", data: entries.map(([, v]) => v), itemStyle: { color: colors.accent }, barMaxWidth: 48 }],
    };
  }, [distribution, target, colors]);
  return (
    <section className="chart-card" aria-labelledby="labels-h">
      <h2 id="labels-h">Label distribution</h2>
      {option ? <EChart option={option} height={280} label="Rows per label" testId="label-chart" /> : <p className="muted">The profile has no label distribution (no target column was given).</p>}
    </section>
  );
}

function ColumnStats({ title, stats, keys, testId }: { title: string; stats: Record<string, NumericStats> | undefined; keys: (keyof NumericStats)[]; testId: string }) {
  const rows = Object.entries(stats ?? {});
  if (rows.length === 0) return null;
  return (
    <section className="section" aria-label={title}>
      <h2>{title}</h2>
      <div className="scroll-x">
        <StatsTable className="data-table" testId={testId} corner="column" rows={rows} keys={keys} format={statText} alignFigures />
      </div>
    </section>
  );
}

const statText = (v: number | undefined) => (typeof v === "number" ? formatValue(v) : "—");

const KIND_STYLE: Record<NodeKind, { color: string; symbol: string; name: string }> = {
  dataset: { color: "#4e79a7", symbol: "roundRect", name: "dataset" },
  run: { color: "#59a14f", symbol: "circle", name: "run" },
  version: { color: "#f28e2b", symbol: "diamond", name: "model version" },
  alias: { color: "#b07aa1", symbol: "pin", name: "alias" },
  stage: { color: "#e15759", symbol: "triangle", name: "stage" },
};

function graphOption(
  data: Lineage,
  colors: ChartColors,
): { option: ChartOption; height: number; links: Map<string, string>; points: [string, [number, number]][] } {
  const graph = buildLineage(data);
  const height = Math.max(280, Math.min(1200, graph.rows * 60 + 100));
  const pos = layout(graph, 1000, height);
  const links = new Map<string, string>();
  const kinds = Object.keys(KIND_STYLE) as NodeKind[];
  for (const n of graph.nodes) if (n.link) links.set(n.id, n.link);
  const option: ChartOption = {
    tooltip: { trigger: "item", confine: true, formatter: (p: { dataType: string; data: { label?: { formatter?: string }; value?: string } }) => (p.dataType === "node" ? `${p.data.value ?? ""}` : "") },
    legend: { data: kinds.map((k) => KIND_STYLE[k].name), textStyle: { color: colors.muted }, top: 0 },
    series: [
      {
        type: "graph",
        layout: "none",
        roam: true,
        top: 56,
        bottom: 36,
        left: 120,
        right: 150,
        categories: kinds.map((k) => ({ name: KIND_STYLE[k].name, itemStyle: { color: KIND_STYLE[k].color } })),
        label: { show: true, position: "bottom", color: colors.text, fontSize: 11 },
        edgeSymbol: ["none", "arrow"],
        edgeSymbolSize: 7,
        lineStyle: { color: colors.muted, width: 1.2, curveness: 0.08, opacity: 0.8 },
        emphasis: { focus: "adjacency" },
        data: graph.nodes.map((n) => {
          const [x, y] = pos.get(n.id)!;
          return {
            id: n.id,
            name: n.id,
            value: `${KIND_STYLE[n.kind].name}: ${n.label}${n.link ? " (click to open)" : ""}`,
            x,
            y,
            category: kinds.indexOf(n.kind),
            symbol: KIND_STYLE[n.kind].symbol,
            symbolSize: n.kind === "dataset" ? 26 : 18,
            label: { formatter: n.label.length > 32 ? `${n.label.slice(0, 31)}…` : n.label },
            cursor: n.link ? "pointer" : "default",
          };
        }),
        links: graph.edges.map((e) => ({ source: e.source, target: e.target })),
      },
    ],
  };
  return { option, height, links, points: [...pos.entries()] };
}

function LineageGraph({ data }: { data: Lineage }) {
  const colors = useChartColors();
  const navigate = useNavigate();
  const { option, height, links, points } = useMemo(() => graphOption(data, colors), [data, colors]);
  // where each node was drawn (pixels in the chart box), for keyboard users' link list below
  const [pixels, setPixels] = useState<Record<string, [number, number]>>({});
  const onEvents = useMemo(
    () => ({
      finished: (_p: unknown, chart: EChartsInstance) => {
        const next: Record<string, [number, number]> = {};
        for (const [id, xy] of points) {
          const px = chart.convertToPixel({ seriesIndex: 0 }, xy) as number[] | undefined;
          if (px) next[id] = [Math.round(px[0]), Math.round(px[1])];
        }
        setPixels((prev) => (JSON.stringify(prev) === JSON.stringify(next) ? prev : next));
      },
    }),
    [points],
  );
  return (
    <section className="section chart-card" aria-labelledby="lineage-h">
      <h2 id="lineage-h">Lineage</h2>
      <p className="note">
        dataset → runs that used it → model versions registered from them → their aliases and stages. Click a node to open it.
      </p>
      <EChart
        option={option}
        height={height}
        label="Lineage graph"
        testId="lineage-graph"
        onEvents={onEvents}
        onClick={(p) => {
          if (p.dataType !== "node") return;
          const id = (p.data as { id?: string } | undefined)?.id;
          const to = id ? links.get(id) : undefined;
          if (to) navigate(to);
        }}
      />
      <ul className="sr-only" data-testid="lineage-links" aria-label="Lineage links">
        {[...links.entries()].map(([id, to]) => (
          <li key={id} data-node={id} data-x={pixels[id]?.[0]} data-y={pixels[id]?.[1]}>
            <Link to={to}>{id}</Link>
          </li>
        ))}
      </ul>
    </section>
  );
}
