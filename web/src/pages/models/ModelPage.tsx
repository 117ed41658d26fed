// /models/:name — a registered model: description and tags (editable), aliases (set, move,
// remove), its versions with stage, aliases, source run and its key metrics, dataset, creator;
// stage transitions; a metric across versions; the promotion history as a timeline.
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { EChart } from "../../viz/EChart";
import type { ChartOption } from "../../viz/echarts";
import { axisStyle, useChartColors } from "../../viz/theme";
import "../../viz/pages.css";
import { formatValue, metricNumber } from "../compare/logic";
import {
  deleteAlias,
  deleteModelTag,
  describeEvent,
  formatTime,
  getModel,
  history,
  keyMetrics,
  metricOverVersions,
  performance,
  setAlias,
  setModelTag,
  STAGES,
  tagsOf,
  transition,
  updateModel,
  type VersionPerformance,
} from "./api";
import { Crumbs, ErrorText } from "../../lib/widgets";
import { PermissionsPanel } from "../auth/PermissionsPanel";
import { ModelApprovals } from "../approvals/ModelApprovals";
import { HistoryPanel } from "../audit/HistoryPanel";
import { DescriptionEditor, RemovableChip, StageBadge, TagEditor } from "./widgets";
import { DeleteVersion, ModelActions } from "./actions";
import { DegradationFlag } from "../insights/widgets";
import { directionLabel, flagged, modelTrend, type ModelTrend } from "../insights/logic";
import { TrendChart } from "../insights/TrendChart";

const STAGE_COLORS: Record<string, string> = { Production: "#2e9e50", Staging: "#d9a400", Archived: "#8a94a3", None: "#4e79a7" };

export function ModelPage() {
  const { name = "" } = useParams();
  const client = useQueryClient();
  const model = useQuery({ queryKey: ["model", name], queryFn: () => getModel(name) });
  const perf = useQuery({ queryKey: ["model-perf", name], queryFn: () => performance(name) });
  const events = useQuery({ queryKey: ["model-history", name], queryFn: () => history(name) });
  const refresh = () =>
    Promise.all([
      client.invalidateQueries({ queryKey: ["model", name] }),
      client.invalidateQueries({ queryKey: ["model-perf", name] }),
      client.invalidateQueries({ queryKey: ["model-history", name] }),
      client.invalidateQueries({ queryKey: ["models"] }),
      client.invalidateQueries({ queryKey: ["approval-requests"] }),
      client.invalidateQueries({ queryKey: ["audit"] }),
    ]);

  if (model.isError) {
    return (
      <div className="page">
        <div className="crumbs">
          <Link to="/models">Models</Link>
        </div>
        <ErrorText error={model.error} />
      </div>
    );
  }
  if (!model.data) return <div className="page muted">Loading…</div>;
  const m = model.data;
  const versions = perf.data?.versions ?? [];
  return (
    <div className="page" data-testid="model-page">
      <Crumbs trail={[{ to: "/models", label: "Models" }]} />
      <div className="page-head">
        <h1>{m.name}</h1>
        <span className="muted">
          created {formatTime(m.creation_timestamp)} · updated {formatTime(m.last_updated_timestamp)}
        </span>
        <Link to={`/models/${encodeURIComponent(name)}/security`} className="btn small ghost" data-testid="model-security-link">
          Security
        </Link>
        <ModelActions name={m.name} versionCount={versions.length} />
      </div>
      <div className="grid-2 section">
        <div className="card box">
          <h3>Description</h3>
          <DescriptionEditor value={m.description ?? ""} onSave={(d) => updateModel(name, d).then(refresh)} testId="model-description" />
          <h3>Tags</h3>
          <TagEditor tags={tagsOf(m.tags)} onSet={(k, v) => setModelTag(name, k, v).then(refresh)} onDelete={(k) => deleteModelTag(name, k).then(refresh)} testId="model-tags" />
        </div>
        <AliasCard name={name} aliases={m.aliases ?? []} versions={versions.map((v) => v.version.version)} onDone={refresh} />
      </div>
      <section className="section" aria-labelledby="versions-h">
        <h2 id="versions-h">Versions</h2>
        <ErrorText error={perf.error} />
        <DegradationFlag trend={perf.data?.trend} />
        <VersionsTable name={name} versions={versions} onDone={refresh} />
      </section>
      <div className="grid-2 section">
        <div>
          <PerformanceTrend trend={perf.data?.trend} />
          <MetricOverVersions versions={versions} />
        </div>
        <section className="chart-card" aria-labelledby="history-h" data-testid="history">
          <h2 id="history-h">Promotion history</h2>
          <ErrorText error={events.error} />
          <ol className="timeline" data-testid="history-timeline" style={{ maxHeight: 360, overflowY: "auto" }}>
            {(events.data?.events ?? []).map((e, i) => (
              <li key={i} data-testid="history-event" data-kind={e.kind}>
                {describeEvent(e)}
                {e.actor && <span className="muted"> by {e.actor}</span>}
                <span className="when">{formatTime(e.time)}</span>
              </li>
            ))}
          </ol>
        </section>
      </div>
      <ModelApprovals name={name} hasProduction={versions.some((v) => v.version.current_stage === "Production")} />
      <HistoryPanel subject={{ kind: "model", name }} title="History: who changed this model" />
      <PermissionsPanel kind="registered_model" id={name} />
    </div>
  );
}

function AliasCard({ name, aliases, versions, onDone }: { name: string; aliases: { alias: string; version: string }[]; versions: string[]; onDone: () => Promise<unknown> }) {
  const [alias, setAliasName] = useState("");
  const [version, setVersion] = useState("");
  const target = version || versions[versions.length - 1] || "";
  const set = useMutation({
    mutationFn: () => setAlias(name, alias.trim(), target).then(onDone),
    onSuccess: () => setAliasName(""),
  });
  const del = useMutation({ mutationFn: (a: string) => deleteAlias(name, a).then(onDone) });
  return (
    <div className="card box" data-testid="alias-card">
      <h3>Aliases</h3>
      <div className="chips">
        {aliases.length === 0 && <span className="muted">No aliases</span>}
        {aliases.map((a) => (
          <RemovableChip key={a.alias} className="alias" testId="alias" removeLabel={`Remove alias ${a.alias}`} onRemove={() => del.mutate(a.alias)}>
            @{a.alias} → <Link to={`/models/${encodeURIComponent(name)}/versions/${a.version}`}>v{a.version}</Link>
          </RemovableChip>
        ))}
      </div>
      <form
        className="form-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (alias.trim() && target) set.mutate();
        }}
      >
        <input className="input" list="alias-names" placeholder="alias (e.g. champion)" value={alias} onChange={(e) => setAliasName(e.target.value)} aria-label="Alias" data-testid="alias-name" />
        <datalist id="alias-names">
          {aliases.map((a) => (
            <option key={a.alias} value={a.alias} />
          ))}
        </datalist>
        <label className="muted">
          version{" "}
          <select className="input" value={target} onChange={(e) => setVersion(e.target.value)} aria-label="Alias version" data-testid="alias-version">
            {versions.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="btn small primary" disabled={!alias.trim() || !target || set.isPending} data-testid="alias-set">
          Set / move alias
        </button>
      </form>
      <p className="note">Setting an alias that exists moves it to the chosen version.</p>
      <ErrorText error={set.error ?? del.error} />
    </div>
  );
}

function StageAction({ name, version, current, onDone }: { name: string; version: string; current: string; onDone: () => Promise<unknown> }) {
  const [stage, setStage] = useState(current === "Production" ? "Archived" : "Production");
  const [archive, setArchive] = useState(false);
  // under a promotion policy the server refuses the move (APPROVAL_REQUIRED) and says which
  // request to approve: the page refreshes either way, so the request shows
  const go = useMutation({ mutationFn: () => transition(name, version, stage, archive).then(onDone), onError: () => onDone() });
  return (
    <div className="form-row" style={{ margin: 0, flexWrap: "nowrap" }} data-testid={`stage-action-${version}`}>
      <select className="input" value={stage} onChange={(e) => setStage(e.target.value)} aria-label={`New stage for version ${version}`}>
        {STAGES.filter((s) => s !== current).map((s) => (
          <option key={s}>{s}</option>
        ))}
      </select>
      <label className="muted" style={{ whiteSpace: "nowrap" }} title="Move the other versions in that stage to Archived">
        <input type="checkbox" checked={archive} onChange={(e) => setArchive(e.target.checked)} disabled={stage !== "Production" && stage !== "Staging"} /> archive existing
      </label>
      <button type="button" className="btn small" disabled={go.isPending} onClick={() => go.mutate()}>
        Transition
      </button>
      {go.error && <span className="error-box">{go.error.message}</span>}
    </div>
  );
}

function VersionsTable({ name, versions, onDone }: { name: string; versions: VersionPerformance[]; onDone: () => Promise<unknown> }) {
  const ordered = [...versions].reverse(); // newest first
  return (
    <div className="scroll-x">
      <table className="data-table" data-testid="versions-table">
        <thead>
          <tr>
            <th>Version</th>
            <th>Stage</th>
            <th>Aliases</th>
            <th>Source run</th>
            <th>Key metrics</th>
            <th>Dataset</th>
            <th>Created</th>
            <th>Transition</th>
            <th aria-label="Delete" />
          </tr>
        </thead>
        <tbody>
          {ordered.length === 0 && (
            <tr>
              <td colSpan={9} className="muted">
                No versions yet.
              </td>
            </tr>
          )}
          {ordered.map(({ version: v, run, datasets }) => (
            <tr key={v.version} data-testid={`version-row-${v.version}`}>
              <td>
                <Link to={`/models/${encodeURIComponent(name)}/versions/${v.version}`}>Version {v.version}</Link>
              </td>
              <td data-testid="version-stage">
                <StageBadge stage={v.current_stage} />
              </td>
              <td data-testid="version-aliases">
                {v.aliases.map((a) => (
                  <span key={a} className="alias">
                    @{a}
                  </span>
                ))}
              </td>
              <td>{run ? <Link to={`/runs/${run.run_id}`}>{run.run_name ?? run.run_id.slice(0, 8)}</Link> : <span className="muted">—</span>}</td>
              <td className="mono" style={{ fontSize: 12 }}>
                {keyMetrics(run?.metrics).map(([k, val]) => (
                  <div key={k}>
                    {k}: {formatValue(metricNumber(val))}
                  </div>
                ))}
              </td>
              <td>
                {datasets.map((d) => (
                  <div key={d.dataset_id}>
                    <Link to={`/datasets/${d.dataset_id}`}>{d.name}</Link> <span className="muted mono">{d.digest.slice(0, 8)}</span>
                  </div>
                ))}
              </td>
              <td className="muted">
                {formatTime(v.creation_timestamp)}
                {v.user_id && <div>by {v.user_id}</div>}
              </td>
              <td>
                <StageAction name={name} version={v.version} current={v.current_stage} onDone={onDone} />
              </td>
              <td>
                <DeleteVersion name={name} version={v.version} onDone={onDone} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The server's trend of a metric over versions: best and newest marked, the newest in the
 * warning colour when it fell more than the threshold behind; degraded metrics first. */
function PerformanceTrend({ trend }: { trend: ModelTrend | undefined }) {
  const keys = useMemo(() => {
    if (!trend) return [];
    const bad = flagged(trend).map((d) => d.metric);
    return [...bad, ...trend.metrics.map((m) => m.key).filter((k) => !bad.includes(k) && (trend.series[k]?.length ?? 0) > 0)];
  }, [trend]);
  const [chosen, setChosen] = useState<string | null>(null);
  const metric = chosen && keys.includes(chosen) ? chosen : (keys[0] ?? null);
  const input = useMemo(() => (trend && metric ? modelTrend(trend, metric) : null), [trend, metric]);
  if (!trend || !metric || !input) return null;
  const goal = trend.metrics.find((m) => m.key === metric);
  return (
    <section className="chart-card" aria-labelledby="trend-h" data-testid="model-trend" style={{ marginBottom: 12 }}>
      <h2 id="trend-h">Performance trend</h2>
      <div className="toolbar">
        <label>
          metric
          <select className="input" value={metric} onChange={(e) => setChosen(e.target.value)} data-testid="trend-metric">
            {keys.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        {goal && <span className="note">{directionLabel(goal.direction)}{goal.guessed ? " (guessed from the name)" : ""}</span>}
      </div>
      <TrendChart input={input} label={`${metric} trend over versions`} testId="model-trend-chart" height={180} />
    </section>
  );
}

function MetricOverVersions({ versions }: { versions: VersionPerformance[] }) {
  const colors = useChartColors();
  const keys = useMemo(() => {
    const s = new Set<string>();
    for (const v of versions) for (const k of Object.keys(v.run?.metrics ?? {})) s.add(k);
    return [...s].sort();
  }, [versions]);
  const [chosen, setChosen] = useState<string | null>(null);
  const metric = chosen ?? keys[0] ?? null;
  const option = useMemo<ChartOption | null>(() => {
    if (!metric) return null;
    const points = metricOverVersions(versions, metric);
    return {
      grid: { left: 56, right: 16, top: 24, bottom: 40 },
      tooltip: { trigger: "axis", confine: true },
      xAxis: { type: "category", data: points.map((p) => `v${p.version}`), name: "version", nameLocation: "middle", nameGap: 26, ...axisStyle(colors) },
      yAxis: { type: "value", scale: true, name: metric, ...axisStyle(colors) },
      series: [
        {
          type: "line",
          name: metric,
          data: points.map((p) => ({ value: p.value, itemStyle: { color: STAGE_COLORS[p.stage] ?? colors.accent } })),
          symbol: "circle",
          symbolSize: 11,
          lineStyle: { color: colors.muted, width: 1.5 },
        },
      ],
    };
  }, [versions, metric, colors]);
  return (
    <section className="chart-card" aria-labelledby="perf-h">
      <h2 id="perf-h">Metric across versions</h2>
      {keys.length === 0 ? (
        <p className="muted">No version has a source run with metrics.</p>
      ) : (
        <>
          <div className="toolbar">
            <label>
              metric
              <select className="input" value={metric ?? ""} onChange={(e) => setChosen(e.target.value)} data-testid="perf-metric">
                {keys.map((k) => (
                  <option key={k}>{k}</option>
                ))}
              </select>
            </label>
            <span className="note">
              points coloured by stage:{" "}
              {Object.entries(STAGE_COLORS).map(([s, c]) => (
                <span key={s} style={{ marginRight: 8 }}>
                  <span className="swatch" style={{ background: c }} />
                  {s}
                </span>
              ))}
            </span>
          </div>
          {option && <EChart option={option} height={300} label={`${metric} across versions`} testId="perf-chart" />}
        </>
      )}
    </section>
  );
}
