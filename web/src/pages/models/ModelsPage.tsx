// /models: the registered models (search by name; latest version per stage, aliases, tags),
// and, with ?compare=a,b, several models' production (or latest) versions side by side.
import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { EChart } from "../../viz/EChart";
import type { ChartOption } from "../../viz/echarts";
import { seriesColor, useChartColors } from "../../viz/theme";
import { chartHeight, modelsCompareOption } from "./compareChart";
import "../../viz/pages.css";
import { buildRows, formatValue, metricKeys, type CompareRun } from "../compare/logic";
import { compareModels, formatTime, searchModels, tagsOf, type ModelPick } from "./api";
import type { RegisteredModel } from "../../api/types";
import { ErrorText, ListBody } from "../../lib/widgets";
import { StageBadge } from "./widgets";
import { CreateModel } from "./actions";

export function ModelsPage() {
  const [params, setParams] = useSearchParams();
  const [text, setText] = useState(params.get("q") ?? "");
  const q = params.get("q") ?? "";
  const comparing = useMemo(() => (params.get("compare") ?? "").split(",").filter(Boolean), [params]);
  const stage = params.get("stage") ?? "Production";
  const [picked, setPicked] = useState<string[]>(comparing);
  const models = useQuery({ queryKey: ["models", q], queryFn: () => searchModels(q) });

  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next);
  };
  const list = models.data?.registered_models ?? [];
  return (
    <div className="page" data-testid="models-page">
      <div className="page-head">
        <h1>Models</h1>
        <span className="muted">{models.data ? `${list.length}${models.data.next_page_token ? "+" : ""} registered model${list.length === 1 && !models.data.next_page_token ? "" : "s"}` : ""}</span>
        <CreateModel />
      </div>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          update({ q: text.trim() || null });
        }}
      >
        <input className="input" style={{ minWidth: 280 }} placeholder="Name, or a filter: tags.team = 'lab'" value={text} onChange={(e) => setText(e.target.value)} aria-label="Search models" data-testid="models-search" />
        <button type="submit" className="btn">
          Search
        </button>
        <button type="button" className="btn primary" disabled={picked.length < 2} data-testid="compare-models" onClick={() => update({ compare: picked.join(",") })}>
          Compare selected ({picked.length})
        </button>
      </form>
      <ListBody
        query={models}
        count={list.length}
        empty={q ? `No model name contains “${q}”.` : "No registered models yet. Register one with mlflow.register_model or cairn.log_model(..., registered_model_name=…)."}
      >
        <ModelTable models={list} picked={picked} setPicked={setPicked} />
      </ListBody>
      {comparing.length > 0 && <ModelComparison names={comparing} stage={stage} onStage={(s) => update({ stage: s })} onClose={() => update({ compare: null, stage: null })} />}
    </div>
  );
}

function ModelTable({ models, picked, setPicked }: { models: RegisteredModel[]; picked: string[]; setPicked: (p: string[]) => void }) {
  return (
    <div className="scroll-x">
      <table className="data-table" data-testid="models-table">
        <thead>
          <tr>
            <th aria-label="Select" />
            <th>Name</th>
            <th>Latest versions</th>
            <th>Aliases</th>
            <th>Tags</th>
            <th>Description</th>
            <th>Last modified</th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => {
            const tags = Object.entries(tagsOf(m.tags)).filter(([k]) => !k.startsWith("mlflow."));
            return (
              <tr key={m.name} data-testid="model-row">
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select ${m.name}`}
                    checked={picked.includes(m.name)}
                    onChange={(e) => setPicked(e.target.checked ? [...picked, m.name] : picked.filter((n) => n !== m.name))}
                  />
                </td>
                <td>
                  <Link to={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
                </td>
                <td>
                  {(m.latest_versions ?? []).map((v) => (
                    <span key={v.version} style={{ marginRight: 6, whiteSpace: "nowrap" }}>
                      <Link to={`/models/${encodeURIComponent(m.name)}/versions/${v.version}`}>v{v.version}</Link> <StageBadge stage={v.current_stage} />
                    </span>
                  ))}
                  {(m.latest_versions ?? []).length === 0 && <span className="muted">no versions</span>}
                </td>
                <td>
                  {(m.aliases ?? []).map((a) => (
                    <span key={a.alias} className="alias">
                      @{a.alias} → v{a.version}
                    </span>
                  ))}
                </td>
                <td>
                  {tags.map(([k, v]) => (
                    <span key={k} className="tag">
                      {k}={v}
                    </span>
                  ))}
                </td>
                <td className="muted" style={{ maxWidth: 280 }}>
                  {m.description}
                </td>
                <td className="muted">{formatTime(m.last_updated_timestamp)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function asRun(p: ModelPick): CompareRun {
  return {
    run_id: p.run?.run_id ?? "",
    run_name: p.run?.run_name ?? null,
    experiment_id: p.run?.experiment_id ?? "",
    experiment_name: null,
    status: p.run?.status ?? "",
    lifecycle_stage: p.run?.lifecycle_stage ?? "",
    user_id: p.run?.user_id ?? null,
    start_time: p.run?.start_time ?? null,
    end_time: p.run?.end_time ?? null,
    params: p.run?.params ?? {},
    metrics: p.run?.metrics ?? {},
    tags: {},
  };
}

function ModelComparison({ names, stage, onStage, onClose }: { names: string[]; stage: string; onStage: (s: string) => void; onClose: () => void }) {
  const colors = useChartColors();
  const query = useQuery({ queryKey: ["compare-models", names, stage], queryFn: () => compareModels(names, stage) });
  const picks = useMemo(() => query.data?.models ?? [], [query.data]);
  const runs = useMemo(() => picks.map(asRun), [picks]);
  const rows = useMemo(() => buildRows(runs), [runs]);
  const keys = useMemo(() => metricKeys(runs).slice(0, 8), [runs]);
  const option = useMemo<ChartOption>(() => {
    // a panel per metric, each on its own axis from 0 (models/compareChart.ts)
    const bars = picks.map((p) => ({
      name: p.version ? `${p.name} v${p.version.version}` : p.name,
      values: Object.fromEntries(keys.map((k) => {
        const v = p.run?.metrics[k];
        return [k, typeof v === "number" ? v : null];
      })),
    }));
    return modelsCompareOption(bars, keys, colors);
  }, [picks, keys, colors]);
  return (
    <section className="section card box" data-testid="models-comparison" aria-labelledby="models-cmp">
      <div className="page-head">
        <h2 id="models-cmp">Comparing {names.length} models</h2>
        <div className="toolbar" style={{ margin: 0 }}>
          <label>
            version
            <select className="input" value={stage} onChange={(e) => onStage(e.target.value)} data-testid="compare-stage">
              <option value="Production">Production</option>
              <option value="Staging">Staging</option>
              <option value="latest">latest</option>
            </select>
          </label>
          <button type="button" className="btn small" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
      <ErrorText error={query.error} />
      {query.data && (
        <>
          <div className="scroll-x">
            <table className="cmp">
              <thead>
                <tr>
                  <th className="key">model</th>
                  {picks.map((p, i) => (
                    <th key={p.name}>
                      <span className="swatch" style={{ background: seriesColor(i) }} />
                      <Link to={`/models/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                <tr>
                  <td className="key">version</td>
                  {picks.map((p) => (
                    <td key={p.name}>
                      {p.version ? (
                        <Link to={`/models/${encodeURIComponent(p.name)}/versions/${p.version.version}`}>
                          v{p.version.version}
                        </Link>
                      ) : (
                        <span className="muted">none in {stage}</span>
                      )}{" "}
                      {p.version && <StageBadge stage={p.version.current_stage} />}
                    </td>
                  ))}
                </tr>
                <tr>
                  <td className="key">run</td>
                  {picks.map((p) => (
                    <td key={p.name}>{p.run ? <Link to={`/runs/${p.run.run_id}`}>{p.run.run_name ?? p.run.run_id.slice(0, 8)}</Link> : "—"}</td>
                  ))}
                </tr>
                {rows.map((r) => (
                  <tr key={`${r.kind}:${r.key}`} className={r.differs ? "diff" : undefined}>
                    <td className="key">
                      {r.kind === "param" ? "param" : "metric"} {r.key}
                    </td>
                    {r.values.map((v, i) => (
                      <td key={picks[i].name} className={typeof v === "number" ? "num" : undefined}>
                        {formatValue(v)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {metricKeys(runs).length > 0 && (
            <div className="chart-card section">
              <EChart option={option} height={chartHeight(keys.length)} label={`Metrics of the compared model versions, each on its own axis from 0: ${keys.join(", ")}`} testId="models-compare-chart" />
            </div>
          )}
        </>
      )}
    </section>
  );
}
