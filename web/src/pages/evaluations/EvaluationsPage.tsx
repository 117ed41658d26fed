// /evaluations — evaluation jobs, newest first: state, model and tag filters kept in the URL,
// "Load more" by keyset page token; refreshed every 2 s while any job shown is pending or
// running.
import { useState } from "react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { ErrorText } from "../../lib/widgets";
import { formatTimestamp, plural, relativeTime } from "../../lib/format";
import { searchEvalJobs, type EvalJobState, type JobFilter } from "./api";
import { anyLive, EVAL_STATES, filterFromSearch, formatScore, jobProgress, LIVE_MS, modelLabel, searchFromFilter, stateLabel, stateSummary } from "./logic";
import { EvalNav, ProgressBar, StateBadge } from "./widgets";
import "../../viz/pages.css";
import "./evaluations.css";

const PAGE = 50;

export function EvaluationsPage() {
  const [params, setParams] = useSearchParams();
  const filter = filterFromSearch(params);
  const [model, setModel] = useState(filter.model ?? "");
  const [tag, setTag] = useState(filter.tag ?? "");
  const jobs = useInfiniteQuery({
    queryKey: ["eval-jobs", filter, PAGE],
    queryFn: ({ pageParam, signal }) => searchEvalJobs(filter, pageParam, PAGE, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_page_token ?? undefined,
    refetchInterval: (q) => (anyLive(q.state.data?.pages.flatMap((p) => p.jobs) ?? []) ? LIVE_MS : false),
    retry: false,
  });
  const list = jobs.data?.pages.flatMap((p) => p.jobs) ?? [];
  const apply = (f: JobFilter) => setParams(searchFromFilter(f));
  const filtered = Boolean(filter.state || filter.model || filter.tag);
  return (
    <div className="page" data-testid="evaluations-page">
      <div className="page-head">
        <h1>Evaluations</h1>
        <EvalNav />
      </div>
      <p className="muted">
        Benchmark jobs against a model: each job records one parent run and one run per benchmark in its experiment. Live states refresh while a job is pending or running.
      </p>
      <form
        className="card box eval-filters"
        aria-label="Filter evaluation jobs"
        onSubmit={(e) => {
          e.preventDefault();
          apply({ ...filter, model, tag });
        }}
      >
        <label className="field">
          <span>State</span>
          <select
            className="input"
            value={filter.state ?? ""}
            onChange={(e) => apply({ ...filter, model, tag, state: (e.target.value || undefined) as EvalJobState | undefined })}
            data-testid="eval-filter-state"
          >
            <option value="">any</option>
            {EVAL_STATES.map((s) => (
              <option key={s} value={s}>
                {stateLabel(s)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Model</span>
          <input className="input" placeholder="models:/classifier/3" value={model} onChange={(e) => setModel(e.target.value)} data-testid="eval-filter-model" />
        </label>
        <label className="field">
          <span>Tag</span>
          <input className="input" placeholder="team:lims" value={tag} onChange={(e) => setTag(e.target.value)} data-testid="eval-filter-tag" />
        </label>
        <div className="form-row">
          <button type="submit" className="btn primary" data-testid="eval-apply">
            Filter
          </button>
          <button
            type="button"
            className="btn ghost"
            disabled={!filtered}
            onClick={() => {
              setModel("");
              setTag("");
              apply({});
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <ErrorText error={jobs.error} />
      {jobs.isPending && <p className="muted">Loading…</p>}
      {list.length > 0 && (
        <p className="muted eval-summary" data-testid="eval-summary">
          {stateSummary(list)}
        </p>
      )}
      {jobs.isSuccess && list.length === 0 && (
        <div className="empty-state" data-testid="eval-empty">
          <p>{filtered ? "No evaluation job matches these filters." : "No evaluation jobs yet."}</p>
          {!filtered && (
            <p>
              <Link to="/evaluations/new">Submit one</Link>
            </p>
          )}
        </div>
      )}
      {list.length > 0 && (
        <div className="scroll-x section">
          <table className="data-table eval-table" data-testid="eval-jobs-table">
            <thead>
              <tr>
                <th>Job</th>
                <th>Model</th>
                <th>Benchmarks</th>
                <th>Progress</th>
                <th>State</th>
                <th className="num">Overall score</th>
                <th>Experiment</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {list.map((j) => {
                const p = jobProgress(j);
                return (
                  <tr key={j.id} data-testid="eval-row" data-job-id={j.id} data-state={j.state}>
                    <td className="nowrap">
                      <Link to={`/evaluations/jobs/${encodeURIComponent(j.id)}`} className="mono" data-testid="eval-open">
                        {j.id}
                      </Link>
                    </td>
                    <td title={j.model.name}>
                      {j.model.registered_name ? (
                        <Link to={`/models/${encodeURIComponent(j.model.registered_name)}${j.model.registered_version != null ? `/versions/${j.model.registered_version}` : ""}`}>{modelLabel(j.model)}</Link>
                      ) : (
                        modelLabel(j.model)
                      )}
                    </td>
                    <td>
                      {j.benchmarks.slice(0, 4).map((b) => b.benchmark_id).join(", ")}
                      {j.benchmarks.length > 4 && <span className="muted"> +{j.benchmarks.length - 4}</span>}
                      {j.collection_id && <span className="muted"> ({j.collection_id})</span>}
                    </td>
                    <td style={{ minWidth: 120 }}>
                      <ProgressBar fraction={p.total ? p.done / p.total : 1} state={j.state === "running" || j.state === "pending" ? "running" : j.state} label={`${j.id}: ${p.done} of ${p.total} benchmarks done`} />
                      <span className="muted" style={{ fontSize: 11 }}>
                        {p.done} of {p.total}
                      </span>
                    </td>
                    <td>
                      <StateBadge state={j.state} />
                    </td>
                    <td className="num">{formatScore(j.overall_score)}</td>
                    <td>
                      <Link to={`/experiments/${j.experiment_id}`}>{j.experiment_name || `experiment ${j.experiment_id}`}</Link>
                    </td>
                    <td className="nowrap" title={formatTimestamp(j.created_at)}>
                      {relativeTime(j.created_at)}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <div className="form-row">
        {list.length > 0 && <span className="muted">{plural(list.length, "job")} shown</span>}
        {jobs.hasNextPage && (
          <button type="button" className="btn" disabled={jobs.isFetchingNextPage} onClick={() => jobs.fetchNextPage()} data-testid="eval-more">
            {jobs.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        )}
      </div>
    </div>
  );
}
