// /home: what is going on across the tracker, in one look — runs running now with their live
// progress, the latest runs of every experiment, the newest model versions and their stages,
// approval requests waiting for a decision, firing alerts and recent evaluation jobs. Each card
// loads on its own (one failing says so in its card); running runs refresh every few seconds.
import { useEffect, useState, type ReactNode } from "react";
import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { apiGet, MLFLOW } from "../../api/http";
import { listExperiments, searchRuns } from "../../api/mlflow";
import type { ModelVersion, Run } from "../../api/types";
import { formatDuration, formatNumber, plural, relativeTime, runDuration } from "../../lib/format";
import { ErrorText } from "../../lib/widgets";
import { listAlerts } from "../alerts/api";
import { listRequests } from "../approvals/api";
import { targetLabel, progress as approvals } from "../approvals/logic";
import { searchEvalJobs } from "../evaluations/api";
import { jobProgress } from "../evaluations/logic";
import { ProgressBar, StateBadge } from "../evaluations/widgets";
import { StageBadge } from "../models/widgets";
import { recentExperimentIds, runProgress } from "./logic";
import "./home.css";

const LIVE_MS = 5_000;
const RECENT_RUNS = 12;
const RUNNING_RUNS = 6;

function Card({ title, to, linkText, testId, children }: { title: string; to?: string; linkText?: string; testId: string; children: ReactNode }) {
  return (
    <section className="card home-card" data-testid={testId} aria-labelledby={`${testId}-title`}>
      <header className="home-card-head">
        <h2 id={`${testId}-title`}>{title}</h2>
        {to && (
          <Link to={to} className="home-more">
            {linkText ?? "All"} →
          </Link>
        )}
      </header>
      {children}
    </section>
  );
}

function Body<T>({ query, empty, children }: { query: { isPending: boolean; error: unknown; data?: T[] }; empty: ReactNode; children: (items: T[]) => ReactNode }) {
  if (query.isPending) return <p className="faint home-note">Loading…</p>;
  if (query.error) return <ErrorText error={query.error} />;
  const items = query.data ?? [];
  return items.length ? <>{children(items)}</> : <p className="faint home-note">{empty}</p>;
}

function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function RunName({ run, names }: { run: Run; names: Map<string, string> }) {
  return (
    <>
      <Link to={`/runs/${encodeURIComponent(run.info.run_id)}`}>{run.info.run_name || run.info.run_id.slice(0, 8)}</Link>
      <Link className="faint home-exp" to={`/experiments/${encodeURIComponent(run.info.experiment_id)}`}>
        {names.get(run.info.experiment_id) ?? `experiment ${run.info.experiment_id}`}
      </Link>
    </>
  );
}

function RunningRun({ run, names, now }: { run: Run; names: Map<string, string>; now: number }) {
  const p = runProgress(run);
  const label = p.total !== null && p.step !== null ? `step ${p.step + 1} of ${p.total}` : p.step !== null ? `step ${p.step}` : "no metrics yet";
  return (
    <li className="home-running" data-testid="running-run">
      <div className="home-row">
        <span className="home-name">
          <RunName run={run} names={names} />
        </span>
        <span className="faint" title="running for">
          {formatDuration(runDuration(run.info.start_time, undefined, "RUNNING", now) ?? undefined)}
        </span>
      </div>
      {p.fraction !== null && <ProgressBar fraction={p.fraction} state="running" label={`${run.info.run_name ?? run.info.run_id} progress`} />}
      <div className="home-row faint home-small" data-testid="running-progress">
        <span>{label}</span>
        {p.latest && (
          <span>
            {p.latest.key} {formatNumber(p.latest.value)} · {relativeTime(p.latest.at, now)}
          </span>
        )}
      </div>
    </li>
  );
}

export function HomePage() {
  const now = useNow(1_000);
  const experiments = useQuery({ queryKey: ["experiments", "ACTIVE_ONLY"], queryFn: ({ signal }) => listExperiments("ACTIVE_ONLY", signal), staleTime: 30_000 });
  const ids = experiments.data ? recentExperimentIds(experiments.data) : [];
  const names = new Map((experiments.data ?? []).map((e) => [e.experiment_id, e.name]));
  const runsOf = (filter: string | undefined, max: number, signal: AbortSignal) =>
    ids.length ? searchRuns({ experiment_ids: ids, filter, max_results: max, order_by: ["attributes.start_time DESC"] }, signal).then((r) => r.runs ?? []) : Promise.resolve([] as Run[]);
  const running = useQuery({
    queryKey: ["home", "running", ids],
    queryFn: ({ signal }) => runsOf("attributes.status = 'RUNNING'", RUNNING_RUNS, signal),
    enabled: !!experiments.data,
    refetchInterval: LIVE_MS,
  });
  const recent = useQuery({
    queryKey: ["home", "recent", ids],
    queryFn: ({ signal }) => runsOf(undefined, RECENT_RUNS, signal),
    enabled: !!experiments.data,
    refetchInterval: running.data?.length ? LIVE_MS : false,
  });
  const versions = useQuery({
    queryKey: ["home", "versions"],
    queryFn: ({ signal }) =>
      apiGet<{ model_versions?: ModelVersion[] }>(`${MLFLOW}/model-versions/search`, { max_results: 8, order_by: "creation_timestamp DESC" }, signal).then((r) => r.model_versions ?? []),
  });
  const requests = useQuery({ queryKey: ["home", "requests"], queryFn: () => listRequests({ state: "pending", max_results: 6 }).then((r) => r.requests) });
  const alerts = useQuery({ queryKey: ["home", "alerts"], queryFn: () => listAlerts({ state: "firing", max_results: 6 }).then((r) => r.alerts), refetchInterval: 30_000 });
  const jobs = useQuery({ queryKey: ["home", "eval-jobs"], queryFn: ({ signal }) => searchEvalJobs({}, null, 6, signal).then((r) => r.jobs), refetchInterval: 15_000 });
  const runsQuery = (q: typeof running) => ({ isPending: experiments.isPending || (q.isPending && q.fetchStatus !== "idle"), error: experiments.error ?? q.error, data: q.data });

  return (
    <div className="page home-page" data-testid="home-page">
      <div className="page-head">
        <h1>Home</h1>
        <span className="muted">
          {experiments.data ? `${plural(experiments.data.length, "experiment")} · ` : ""}
          <Link to="/">Experiments</Link> · <Link to="/models">Models</Link> · <Link to="/artifacts">Artifacts</Link>
        </span>
      </div>
      <div className="home-grid">
        <Card title="Running now" testId="home-running" to="/" linkText="Experiments">
          <Body query={runsQuery(running)} empty="No run is running.">
            {(runs) => (
              <>
                <ul className="home-list">
                  {runs.map((r) => (
                    <RunningRun key={r.info.run_id} run={r} names={names} now={now} />
                  ))}
                </ul>
                {runs.length === RUNNING_RUNS && <p className="faint home-note">The {RUNNING_RUNS} newest are shown; the experiments have the others.</p>}
              </>
            )}
          </Body>
        </Card>
        <Card title="Recent runs" testId="home-recent" to="/" linkText="Experiments">
          <Body query={runsQuery(recent)} empty="No runs yet. Start one with mlflow.start_run().">
            {(runs) => (
              <ul className="home-list">
                {runs.map((r) => (
                  <li key={r.info.run_id} className="home-row" data-testid="recent-run">
                    <span className="home-name">
                      <RunName run={r} names={names} />
                    </span>
                    <span className="home-side">
                      <span className={`badge ${r.info.status}`}>{r.info.status.toLowerCase()}</span>
                      <span className="faint" title={new Date(r.info.start_time ?? 0).toISOString()}>
                        {relativeTime(r.info.start_time, now)}
                      </span>
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </Body>
        </Card>
        <Card title="Newest model versions" testId="home-versions" to="/models" linkText="Models">
          <Body query={versions} empty="No registered model versions yet.">
            {(list) => (
              <ul className="home-list">
                {list.map((v) => (
                  <li key={`${v.name}/${v.version}`} className="home-row" data-testid="home-version">
                    <span className="home-name">
                      <Link className="home-ver" to={`/models/${encodeURIComponent(v.name)}/versions/${encodeURIComponent(v.version)}`}>
                        <span className="home-ver-name">{v.name}</span> <b>v{v.version}</b>
                      </Link>
                      {(v.aliases ?? []).map((a) => (
                        <span key={a} className="chip home-alias">
                          @{a}
                        </span>
                      ))}
                    </span>
                    <span className="home-side">
                      <StageBadge stage={v.current_stage} />
                      <span className="faint">{relativeTime(v.creation_timestamp, now)}</span>
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </Body>
        </Card>
        <Card title="Waiting for approval" testId="home-requests" to="/requests" linkText="Requests">
          <Body query={requests} empty="No open approval requests.">
            {(list) => (
              <ul className="home-list">
                {list.map((r) => (
                  <li key={r.id} className="home-row" data-testid="home-request">
                    <span className="home-name">
                      <Link className="home-ver" to={`/models/${encodeURIComponent(r.model_name)}/versions/${encodeURIComponent(r.version)}`}>
                        <span className="home-ver-name">{r.model_name}</span>{" "}
                        <b>
                          v{r.version} → {targetLabel(r.target)}
                        </b>
                      </Link>
                      <span className="faint">by {r.requested_by}</span>
                    </span>
                    <span className="home-side faint">
                      {approvals(r)} · {relativeTime(r.requested_at, now)}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </Body>
        </Card>
        <Card title="Firing alerts" testId="home-alerts" to="/alerts" linkText="Alerts">
          <Body query={alerts} empty="No alert is firing.">
            {(list) => (
              <ul className="home-list">
                {list.map((a) => (
                  <li key={a.id} className="home-row" data-testid="home-alert">
                    <span className="home-name">
                      <span className="home-alert-rule">{a.rule_name}</span>
                      <span className="faint">{a.message}</span>
                    </span>
                    <span className="home-side faint">{relativeTime(a.fired_at, now)}</span>
                  </li>
                ))}
              </ul>
            )}
          </Body>
        </Card>
        <Card title="Recent evaluation jobs" testId="home-evals" to="/evaluations" linkText="Evaluations">
          <Body query={jobs} empty="No evaluation jobs yet.">
            {(list) => (
              <ul className="home-list">
                {list.map((j) => (
                  <li key={j.id} className="home-row" data-testid="home-eval">
                    <span className="home-name">
                      <Link to={`/evaluations/jobs/${encodeURIComponent(j.id)}`}>{j.model.name || j.id}</Link>
                      <span className="faint">{plural(j.benchmarks.length, "benchmark")}</span>
                    </span>
                    <span className="home-side">
                      {j.state === "running" && j.benchmarks.length ? <ProgressBar fraction={jobProgress(j).done / j.benchmarks.length} state={j.state} label={`job ${j.id} progress`} /> : null}
                      <StateBadge state={j.state} testId="home-eval-state" />
                      <span className="faint">{relativeTime(j.created_at, now)}</span>
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </Body>
        </Card>
      </div>
    </div>
  );
}
