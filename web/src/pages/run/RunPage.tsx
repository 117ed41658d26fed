// /runs/:runId — one run: overview, description, params, latest metrics with sparklines,
// tags, datasets with their profiles, logged models and the artifact browser.
import { useMemo } from "react";
import { Link, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import { getExperiment, getRun, searchLoggedModels, searchRuns } from "../../api/mlflow";
import { metricNumber, type Run } from "../../api/types";
import { formatDuration, formatNumber, formatTimestamp, runDuration } from "../../lib/format";
import { fetchBuckets } from "../../charts/fetch";
import { chartLink } from "../metrics/urlState";
import { ArtifactBrowser } from "../../artifacts/ArtifactBrowser";
import { artifactRoot } from "../../artifacts/api";
import { Preview } from "../../artifacts/Preview";
import { Sparkline } from "./Sparkline";
import { Description, TagsEditor } from "./Tags";
import { parseProfile, sourceText } from "../../lib/profile";
import { StatsTable } from "../../viz/StatsTable";
import { HistoryPanel } from "../audit/HistoryPanel";
import { registeredVersions } from "../runs/api";
import { findDatasetId } from "../datasets/api";
import { RegisterVersion, type SourceOption } from "../models/actions";
import { runsUri } from "../models/api";
import { runFilter, searchTraces } from "../traces/api";
import "./run.css";

const PARENT_TAG = "mlflow.parentRunId";

function tag(run: Run, key: string): string | undefined {
  return run.data.tags?.find((t) => t.key === key)?.value;
}

function Section({ id, title, children, extra }: { id: string; title: string; children: React.ReactNode; extra?: React.ReactNode }) {
  return (
    <section className="run-section card" id={id} aria-labelledby={`${id}-title`}>
      <header className="run-section-head">
        <h2 id={`${id}-title`}>{title}</h2>
        {extra}
      </header>
      {children}
    </section>
  );
}

function RunLink({ runId }: { runId: string }) {
  const q = useQuery({ queryKey: ["run", runId], queryFn: ({ signal }) => getRun(runId, signal) });
  return <Link to={`/runs/${runId}`}>{q.data?.run.info.run_name || runId.slice(0, 8)}</Link>;
}

/** The registry versions made from this run, each a link to its version page. */
function RegisteredLinks({ runId }: { runId: string }) {
  const q = useQuery({ queryKey: ["run-registered", runId], queryFn: ({ signal }) => registeredVersions([runId], signal) });
  const list = q.data?.get(runId) ?? [];
  if (q.isPending) return <span className="faint">…</span>;
  if (list.length === 0) return <span className="faint">not registered</span>;
  return (
    <>
      {list.map((v, i) => (
        <span key={`${v.name}/${v.version}`}>
          {i > 0 && ", "}
          <Link to={`/models/${encodeURIComponent(v.name)}/versions/${v.version}`} data-testid="run-registered-link">
            {v.name} v{v.version}
          </Link>
        </span>
      ))}
    </>
  );
}

/** A dataset's name, linked to its page once its id is known. */
function DatasetName({ experimentId, name, digest }: { experimentId: string; name: string; digest: string }) {
  const q = useQuery({
    queryKey: ["dataset-id", experimentId, name, digest],
    queryFn: ({ signal }) => findDatasetId(experimentId, name, digest, signal),
    staleTime: 60_000,
  });
  return q.data ? (
    <Link to={`/datasets/${q.data}`} data-testid="run-dataset-link">
      {name}
    </Link>
  ) : (
    <>{name}</>
  );
}

function Overview({ run, children }: { run: Run; children: Run[] }) {
  const info = run.info;
  const experiment = useQuery({
    queryKey: ["experiment", info.experiment_id],
    queryFn: ({ signal }) => getExperiment(info.experiment_id, signal),
  });
  const parent = tag(run, PARENT_TAG);
  const source = tag(run, "mlflow.source.name");
  const commit = tag(run, "mlflow.source.git.commit");
  const user = info.user_id || tag(run, "mlflow.user");
  const duration = runDuration(info.start_time, info.end_time, info.status);
  return (
    <dl className="kv overview" aria-label="Overview">
      <dt>Status</dt>
      <dd>
        <span className={`badge ${info.status}`}>{info.status}</span>
        {info.lifecycle_stage === "deleted" && <span className="badge FAILED"> deleted</span>}
      </dd>
      <dt>Experiment</dt>
      <dd>
        <Link to={`/experiments/${info.experiment_id}`}>{experiment.data?.name ?? info.experiment_id}</Link>
      </dd>
      <dt>Started</dt>
      <dd>{formatTimestamp(info.start_time) || "—"}</dd>
      <dt>Ended</dt>
      <dd>{formatTimestamp(info.end_time) || (info.status === "RUNNING" ? "running" : "—")}</dd>
      <dt>Duration</dt>
      <dd>{duration !== null ? formatDuration(duration) : "—"}</dd>
      <dt>User</dt>
      <dd>{user || "—"}</dd>
      <dt>Source</dt>
      <dd className="mono">
        {source || "—"}
        {commit ? ` @ ${commit.slice(0, 10)}` : ""}
      </dd>
      <dt>Run id</dt>
      <dd className="mono">{info.run_id}</dd>
      <dt>Registered as</dt>
      <dd data-testid="run-registered">
        <RegisteredLinks runId={info.run_id} />
      </dd>
      {parent && (
        <>
          <dt>Parent run</dt>
          <dd>
            <RunLink runId={parent} />
          </dd>
        </>
      )}
      {children.length > 0 && (
        <>
          <dt>Child runs</dt>
          <dd className="children">
            {children.map((c) => (
              <Link key={c.info.run_id} to={`/runs/${c.info.run_id}`} className="child-run">
                {c.info.run_name || c.info.run_id.slice(0, 8)} <span className={`badge ${c.info.status}`}>{c.info.status}</span>
              </Link>
            ))}
          </dd>
        </>
      )}
    </dl>
  );
}

function Params({ run }: { run: Run }) {
  const params = [...(run.data.params ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  if (params.length === 0) return <p className="faint">No params. Log them with <code>mlflow.log_params({"{"}"lr": 0.01{"}"})</code>.</p>;
  return (
    <table className="kv-table" aria-label="Params">
      <tbody>
        {params.map((p) => (
          <tr key={p.key}>
            <td className="mono">{p.key}</td>
            <td className="mono">{p.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Metrics({ run }: { run: Run }) {
  const runId = run.info.run_id;
  const metrics = useMemo(() => [...(run.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key)), [run.data.metrics]);
  const keys = metrics.map((m) => m.key);
  const sparks = useQuery({
    queryKey: ["sparklines", runId, keys],
    queryFn: ({ signal }) => fetchBuckets([runId], keys, "step", 100, null, signal),
    enabled: keys.length > 0,
  });
  if (metrics.length === 0) return <p className="faint">No metrics. Log them with <code>mlflow.log_metric("loss", 0.5, step=1)</code>.</p>;
  const byKey = new Map((sparks.data?.series ?? []).map((s) => [s.key, s]));
  return (
    <table className="metrics-table" aria-label="Metrics">
      <thead>
        <tr>
          <th>metric</th>
          <th>latest</th>
          <th>step</th>
          <th>history</th>
        </tr>
      </thead>
      <tbody>
        {metrics.map((m) => {
          const s = byKey.get(m.key);
          return (
            <tr key={m.key}>
              <td className="mono">
                <Link to={chartLink([runId], [m.key])}>{m.key}</Link>
              </td>
              <td className="mono">{formatNumber(metricNumber(m.value))}</td>
              <td className="mono faint">{m.step}</td>
              <td>
                <Link to={chartLink([runId], [m.key])} aria-label={`Chart of ${m.key}`} title={s ? `${s.point_count.toLocaleString()} points` : undefined}>
                  <Sparkline series={s} />
                </Link>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Datasets({ run }: { run: Run }) {
  const inputs = run.inputs?.dataset_inputs ?? [];
  if (inputs.length === 0) return <p className="faint">No datasets. Record one with <code>mlflow.log_input(dataset, context="training")</code>.</p>;
  return (
    <div className="datasets">
      {inputs.map((input, i) => {
        const d = input.dataset;
        const context = input.tags?.find((t) => t.key === "mlflow.data.context")?.value;
        const profile = parseProfile(d.profile);
        const total = profile?.labels.reduce((a, [, n]) => a + n, 0) ?? 0;
        return (
          <article key={`${d.name}-${d.digest}-${i}`} className="dataset" aria-label={`Dataset ${d.name}`}>
            <h3>
              <DatasetName experimentId={run.info.experiment_id} name={d.name} digest={d.digest} /> <span className="faint mono">{d.digest}</span> {context && <span className="badge">{context}</span>}
            </h3>
            <p className="faint mono dataset-source">
              {d.source_type}: {sourceText(d.source)}
            </p>
            {profile ? (
              <>
                <p>
                  {profile.numRows !== null && <strong>{profile.numRows.toLocaleString()} rows</strong>}
                  {profile.numElements !== null && <span className="faint"> · {profile.numElements.toLocaleString()} values</span>}
                  {profile.targets && <span className="faint"> · target column {profile.targets}</span>}
                </p>
                {profile.labels.length > 0 && (
                  <div className="label-dist" aria-label="Label distribution">
                    {profile.labels.slice(0, 20).map(([label, n]) => (
                      <div key={label} className="label-row">
                        <span className="mono label-name">{label}</span>
                        <span className="label-bar" style={{ width: `${total ? (n / total) * 100 : 0}%` }} />
                        <span className="faint mono">{n.toLocaleString()}</span>
                      </div>
                    ))}
                  </div>
                )}
                <StatsTable className="stats-table" label="numeric column" corner="numeric column" rows={profile.numeric} format={formatNumber} />
                <StatsTable className="stats-table" label="text length" corner="text length" rows={profile.textLength} format={formatNumber} />
              </>
            ) : (
              <p className="faint">No profile was logged with this dataset.</p>
            )}
          </article>
        );
      })}
    </div>
  );
}

function Models({ run }: { run: Run }) {
  const runId = run.info.run_id;
  const client = useQueryClient();
  const q = useQuery({
    queryKey: ["logged-models", runId],
    queryFn: ({ signal }) => searchLoggedModels(run.info.experiment_id, runId, signal),
  });
  const outputs = new Set((run.outputs?.model_outputs ?? []).map((o) => o.model_id));
  const history = tag(run, "mlflow.log-model.history");
  let legacy: { artifact_path?: string; flavors?: Record<string, unknown> }[] = [];
  try {
    legacy = history ? (JSON.parse(history) as typeof legacy) : [];
  } catch {
    legacy = [];
  }
  const models = q.data?.models ?? [];
  if (q.isPending) return <p className="faint">Loading…</p>;
  // what the run can be registered from: its logged models, then the folders MLflow 2 logged models to
  const options: SourceOption[] = [
    ...models.map((m) => ({ label: `logged model ${m.info.name} (${m.info.model_id})`, source: `models:/${m.info.model_id}`, modelId: m.info.model_id })),
    ...legacy.filter((l) => l.artifact_path).map((l) => ({ label: `artifact folder ${l.artifact_path}`, source: runsUri(runId, l.artifact_path ?? "") })),
  ].filter((o, i, all) => all.findIndex((x) => x.source === o.source) === i);
  const register =
    run.info.lifecycle_stage === "active" ? (
      <RegisterVersion
        runId={runId}
        options={options}
        onDone={() =>
          Promise.all([
            client.invalidateQueries({ queryKey: ["run-registered", runId] }),
            client.invalidateQueries({ queryKey: ["registered-from"] }),
            client.invalidateQueries({ queryKey: ["models"] }),
          ])
        }
      />
    ) : null;
  if (models.length === 0 && legacy.length === 0)
    return (
      <>
        <p className="faint">No models. Log one with <code>mlflow.sklearn.log_model(model, name="model")</code>, or register a folder of this run's artifacts.</p>
        {register}
      </>
    );
  return (
    <div className="models">
      {register}
      {models.map((m) => {
        const root = artifactRoot(m.info.model_id, m.info.artifact_uri);
        return (
          <article key={m.info.model_id} className="logged-model" aria-label={`Model ${m.info.name}`}>
            <h3>
              {m.info.name} <span className="faint mono">{m.info.model_id}</span>{" "}
              {m.info.status && <span className={`badge ${m.info.status === "LOGGED_MODEL_READY" ? "FINISHED" : "RUNNING"}`}>{m.info.status.replace("LOGGED_MODEL_", "").toLowerCase()}</span>}
              {outputs.has(m.info.model_id) && <span className="badge">output</span>}
            </h3>
            {root.proxied !== null && (
              <details>
                <summary>MLmodel</summary>
                <Preview root={root} file={{ path: "MLmodel", is_dir: false }} />
              </details>
            )}
          </article>
        );
      })}
      {legacy.map((l, i) => (
        <article key={`legacy-${i}`} className="logged-model">
          <h3>
            {l.artifact_path ?? "model"} <span className="faint">(run artifact)</span>
          </h3>
          <p className="faint">flavours: {Object.keys(l.flavors ?? {}).join(", ")}</p>
        </article>
      ))}
    </div>
  );
}

/** A link to the run's traces in its experiment's Traces tab, when it has any. */
function RunTraces({ experimentId, runId }: { experimentId: string; runId: string }) {
  const q = useQuery({
    queryKey: ["traces", experimentId, runFilter(runId), "count"],
    queryFn: ({ signal }) => searchTraces(experimentId, runFilter(runId), undefined, signal),
  });
  const n = q.data?.traces.length ?? 0;
  if (n === 0) return null;
  return (
    <p className="muted">
      <Link to={`/experiments/${experimentId}/traces?filter=${encodeURIComponent(runFilter(runId))}`} data-testid="run-traces-link">
        {n}
        {q.data?.nextPageToken ? "+" : ""} {n === 1 && !q.data?.nextPageToken ? "trace" : "traces"}
      </Link>{" "}
      logged by this run
    </p>
  );
}

export function RunPage() {
  const { runId = "" } = useParams();
  const q = useQuery({ queryKey: ["run", runId], queryFn: ({ signal }) => getRun(runId, signal) });
  const run = q.data?.run;
  // the experiment's name for the breadcrumb (the overview shares this query)
  const experiment = useQuery({
    queryKey: ["experiment", run?.info.experiment_id],
    queryFn: ({ signal }) => getExperiment(run!.info.experiment_id, signal),
    enabled: !!run,
  });
  const children = useQuery({
    queryKey: ["children", runId, run?.info.experiment_id],
    queryFn: ({ signal }) =>
      searchRuns({ experiment_ids: [run!.info.experiment_id], filter: `tags.\`${PARENT_TAG}\` = '${runId}'`, max_results: 1000, run_view_type: "ALL" }, signal),
    enabled: !!run,
  });

  if (q.isPending) return <div className="page muted">Loading…</div>;
  if (q.isError) {
    const err = q.error;
    return (
      <div className="page">
        <div className="empty-state">
          <h2>{err instanceof ApiError && err.status === 404 ? "No such run" : "Cannot load this run"}</h2>
          <p>{String((err as Error).message)}</p>
          <Link to="/">Back to the experiments</Link>
        </div>
      </div>
    );
  }
  const r = q.data.run;
  const experimentName = experiment.data?.name;
  const editable = r.info.lifecycle_stage === "active";
  const root = artifactRoot(r.info.run_id, r.info.artifact_uri);
  const metricKeys = (r.data.metrics ?? []).map((m) => m.key).sort();
  return (
    <div className="page run-page">
      <nav className="crumbs faint" aria-label="Breadcrumb">
        <Link to="/">Experiments</Link> / <Link to={`/experiments/${r.info.experiment_id}`}>{experimentName ?? `experiment ${r.info.experiment_id}`}</Link> /
      </nav>
      <h1>
        {r.info.run_name || r.info.run_id} <span className={`badge ${r.info.status}`}>{r.info.status}</span>
      </h1>
      {tag(r, "cairn.eval.job_id") && (
        <p className="muted" data-testid="run-eval-job">
          <Link to={`/evaluations/jobs/${encodeURIComponent(tag(r, "cairn.eval.job_id") ?? "")}`}>Evaluation job {tag(r, "cairn.eval.job_id")}</Link>
        </p>
      )}
      <RunTraces experimentId={r.info.experiment_id} runId={r.info.run_id} />
      <nav className="run-toc" aria-label="Sections">
        {[
          ["overview", "Overview"],
          ["params", "Params"],
          ["metrics", "Metrics"],
          ["tags", "Tags"],
          ["datasets", "Datasets"],
          ["models", "Models"],
          ["artifacts", "Artifacts"],
          ["history", "History"],
        ].map(([id, label]) => (
          <a key={id} href={`#${id}`}>
            {label}
          </a>
        ))}
      </nav>
      <div className="run-grid">
        <Section id="overview" title="Overview">
          <Overview run={r} children={children.data?.runs ?? []} />
          <h3 className="sub">Description</h3>
          <Description runId={r.info.run_id} tags={r.data.tags ?? []} editable={editable} />
        </Section>
        <Section id="params" title={`Params (${r.data.params?.length ?? 0})`}>
          <Params run={r} />
        </Section>
      </div>
      <Section
        id="metrics"
        title={`Metrics (${metricKeys.length})`}
        extra={metricKeys.length > 0 && <Link to={chartLink([r.info.run_id], metricKeys)}>Open all in charts</Link>}
      >
        <Metrics run={r} />
      </Section>
      <Section id="tags" title="Tags">
        <TagsEditor runId={r.info.run_id} tags={r.data.tags ?? []} editable={editable} />
      </Section>
      <Section id="datasets" title="Datasets">
        <Datasets run={r} />
      </Section>
      <Section id="models" title="Models">
        <Models run={r} />
      </Section>
      <Section id="artifacts" title="Artifacts">
        <ArtifactBrowser root={root} />
      </Section>
      <Section id="history" title="History">
        <HistoryPanel subject={{ kind: "run", runId: r.info.run_id }} bare />
      </Section>
    </div>
  );
}
