// Pieces the Evaluations pages share: state badges, progress bars, the page's sub-navigation,
// and the list of jobs that evaluated one model version (shown on the version page).
import { useQuery } from "@tanstack/react-query";
import { Link, NavLink } from "react-router";
import { ErrorText } from "../../lib/widgets";
import { relativeTime, formatTimestamp } from "../../lib/format";
import { searchEvalJobs, type EvalBenchmark } from "./api";
import { anyLive, benchmarkProgress, formatScore, jobProgress, LIVE_MS, stateLabel, stateTone } from "./logic";
import "./evaluations.css";

export function StateBadge({ state, testId = "eval-state" }: { state: string; testId?: string }) {
  return (
    <span className={`badge ${stateTone(state)}`} data-testid={testId} data-state={state}>
      {stateLabel(state)}
    </span>
  );
}

export function ProgressBar({ fraction, state, label }: { fraction: number | null; state: string; label: string }) {
  const pct = fraction == null ? null : Math.round(fraction * 100);
  return (
    <div
      className={`eval-bar ${state}${fraction == null ? " indeterminate" : ""}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct ?? undefined}
      data-testid="eval-progress"
    >
      <span style={pct == null ? undefined : { width: `${pct}%` }} />
    </div>
  );
}

export function BenchmarkBar({ b }: { b: EvalBenchmark }) {
  return <ProgressBar fraction={benchmarkProgress(b)} state={b.state} label={`${b.benchmark_id} progress`} />;
}

export function EvalNav() {
  return (
    <nav className="eval-tabs" aria-label="Evaluations">
      <NavLink to="/evaluations" end className="btn small ghost">
        Jobs
      </NavLink>
      <NavLink to="/evaluations/leaderboard" className="btn small ghost" data-testid="nav-leaderboard">
        Leaderboard
      </NavLink>
      <NavLink to="/evaluations/new" className="btn small primary" data-testid="eval-new">
        New evaluation
      </NavLink>
    </nav>
  );
}

/** The evaluation jobs that evaluated `models:/<name>/<version>`, however the request named
 * it (`/3`, `@champion`, `/Production`): GET /api/v1/evaluations/jobs?model=<name> matches the
 * registered name, and the jobs that resolved to this version are kept (of the newest 100). */
export function VersionEvaluations({ name, version }: { name: string; version: string }) {
  const model = `models:/${name}/${version}`;
  const jobs = useQuery({
    queryKey: ["eval-jobs", "version", name],
    queryFn: ({ signal }) => searchEvalJobs({ model: name }, null, 100, signal),
    refetchInterval: (q) => (q.state.data && anyLive(q.state.data.jobs) ? LIVE_MS : false),
    retry: false,
  });
  const list = (jobs.data?.jobs ?? []).filter((j) => j.model.registered_name === name && String(j.model.registered_version) === version);
  return (
    <section className="section card box" aria-labelledby="version-evals-h" data-testid="version-evaluations">
      <h2 id="version-evals-h">Evaluations</h2>
      <ErrorText error={jobs.error} />
      {jobs.isSuccess && list.length === 0 && (
        <p className="muted">
          No evaluation job evaluated <code>{model}</code> yet. <Link to={`/evaluations/new?model=${encodeURIComponent(model)}`}>Evaluate it</Link>
        </p>
      )}
      {list.length > 0 && (
        <table className="data-table eval-table">
          <thead>
            <tr>
              <th>Job</th>
              <th>State</th>
              <th>Benchmarks</th>
              <th>Overall score</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {list.map((j) => {
              const p = jobProgress(j);
              return (
                <tr key={j.id} data-testid="version-eval-row">
                  <td>
                    <Link to={`/evaluations/jobs/${encodeURIComponent(j.id)}`} className="mono">
                      {j.id}
                    </Link>
                  </td>
                  <td>
                    <StateBadge state={j.state} />
                  </td>
                  <td>
                    {j.benchmarks.map((b) => b.benchmark_id).join(", ")} <span className="muted">({p.done} of {p.total} done)</span>
                  </td>
                  <td className="num">{formatScore(j.overall_score)}</td>
                  <td className="nowrap" title={formatTimestamp(j.created_at)}>
                    {relativeTime(j.created_at)}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
