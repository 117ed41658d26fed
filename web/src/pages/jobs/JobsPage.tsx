// /jobs — the background jobs for admins: kind and state filters kept in the URL, newest first,
// "Load more" by keyset page token; /jobs/:jobId opens a job's detail (payload, result, error)
// beside the table, with Cancel and Retry.
import { useState } from "react";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { ErrorText } from "../../lib/widgets";
import { formatTimestamp, plural, relativeTime } from "../../lib/format";
import { cancelJob, getJob, retryJob, searchJobs, type Job } from "./api";
import { JOB_STATES, attemptsText, filterFromSearch, moves, searchFromFilter, stateTone, type JobFilter, type JobStateName } from "./query";
import "../../viz/pages.css";
import "./jobs.css";

const PAGE = 50;
const LIVE_MS = 2000;

export function JobsPage() {
  const [params, setParams] = useSearchParams();
  const { jobId } = useParams();
  const selected = jobId && /^\d+$/.test(jobId) ? Number(jobId) : null;
  const filter = filterFromSearch(params);
  const [kind, setKind] = useState(filter.kind ?? "");
  const query = searchFromFilter(filter).toString();
  const jobs = useInfiniteQuery({
    queryKey: ["jobs", filter, PAGE],
    queryFn: ({ pageParam, signal }) => searchJobs(filter, pageParam, PAGE, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_page_token ?? undefined,
    refetchInterval: (q) => (q.state.data?.pages.flatMap((p) => p.jobs).some((j) => j.state === "pending" || j.state === "running") ? LIVE_MS : false),
    retry: false,
  });
  const list = jobs.data?.pages.flatMap((p) => p.jobs) ?? [];
  const apply = (f: JobFilter) => setParams(searchFromFilter(f));
  const filtered = Boolean(filter.kind || filter.state);
  const suffix = query ? `?${query}` : "";
  return (
    <div className="page" data-testid="jobs-page">
      <div className="page-head">
        <h1>Jobs</h1>
      </div>
      <p className="muted">
        Background work: webhook deliveries, alert checks, retention and other jobs, newest first. A failed job keeps its error and can be retried; a pending or running one can be cancelled.
      </p>
      <form
        className="card box jobs-filters"
        aria-label="Filter jobs"
        onSubmit={(e) => {
          e.preventDefault();
          apply({ ...filter, kind });
        }}
      >
        <label className="field">
          <span>Kind</span>
          <input className="input" placeholder="webhook.deliver" value={kind} onChange={(e) => setKind(e.target.value)} data-testid="jobs-filter-kind" />
        </label>
        <label className="field">
          <span>State</span>
          <select
            className="input"
            value={filter.state ?? ""}
            onChange={(e) => apply({ ...filter, kind, state: (e.target.value || undefined) as JobStateName | undefined })}
            data-testid="jobs-filter-state"
          >
            <option value="">any</option>
            {JOB_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <div className="form-row">
          <button type="submit" className="btn primary" data-testid="jobs-apply">
            Filter
          </button>
          <button
            type="button"
            className="btn ghost"
            disabled={!filtered}
            onClick={() => {
              setKind("");
              apply({});
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <div className={selected != null ? "jobs-split" : undefined}>
        <div>
          <ErrorText error={jobs.error} />
          {jobs.isPending && <p className="muted">Loading…</p>}
          {jobs.isSuccess && list.length === 0 && (
            <div className="empty-state" data-testid="jobs-empty">
              <p>{filtered ? "No job matches these filters." : "No jobs yet."}</p>
            </div>
          )}
          {list.length > 0 && (
            <div className="scroll-x section">
              <table className="data-table jobs-table" data-testid="jobs-table">
                <thead>
                  <tr>
                    <th>#</th>
                    <th>Kind</th>
                    <th>State</th>
                    <th>Attempts</th>
                    <th>Created</th>
                    <th>Error</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((j) => (
                    <tr key={j.id} data-testid="jobs-row" data-job-id={j.id} data-state={j.state} className={j.id === selected ? "selected" : undefined}>
                      <td>
                        <Link to={`/jobs/${j.id}${suffix}`} data-testid="jobs-open">
                          {j.id}
                        </Link>
                      </td>
                      <td className="nowrap">
                        <code>{j.kind}</code>
                      </td>
                      <td>
                        <StateBadge job={j} />
                      </td>
                      <td className="nowrap">{attemptsText(j)}</td>
                      <td className="nowrap" title={formatTimestamp(j.created_at)}>
                        {relativeTime(j.created_at)}
                      </td>
                      <td className="jobs-error-cell" title={j.error ?? undefined}>
                        {j.error ?? ""}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div className="form-row">
            {list.length > 0 && <span className="muted">{plural(list.length, "job")} shown</span>}
            {jobs.hasNextPage && (
              <button type="button" className="btn" disabled={jobs.isFetchingNextPage} onClick={() => jobs.fetchNextPage()} data-testid="jobs-more">
                {jobs.isFetchingNextPage ? "Loading…" : "Load more"}
              </button>
            )}
          </div>
        </div>
        {selected != null && <JobDetail id={selected} closeTo={`/jobs${suffix}`} />}
      </div>
    </div>
  );
}

function StateBadge({ job }: { job: Job }) {
  return (
    <span className={`badge ${stateTone(job.state)}`} data-testid="job-state">
      {job.state}
      {job.state === "running" && job.cancel_requested ? " (cancelling)" : ""}
    </span>
  );
}

function JobDetail({ id, closeTo }: { id: number; closeTo: string }) {
  const client = useQueryClient();
  const job = useQuery({
    queryKey: ["job", id],
    queryFn: ({ signal }) => getJob(id, signal),
    refetchInterval: (q) => (q.state.data && (q.state.data.state === "pending" || q.state.data.state === "running") ? LIVE_MS : false),
    retry: false,
  });
  const done = (updated: Job) => {
    client.setQueryData(["job", id], updated);
    void client.invalidateQueries({ queryKey: ["jobs"] });
  };
  const cancel = useMutation({ mutationFn: () => cancelJob(id), onSuccess: done });
  const retry = useMutation({ mutationFn: () => retryJob(id), onSuccess: done });
  const j = job.data;
  const can = j ? moves(j) : { cancel: false, retry: false };
  return (
    <aside className="card box job-detail" aria-label={`Job ${id}`} data-testid="job-detail">
      <div className="page-head">
        <h2>Job {id}</h2>
        <Link to={closeTo} className="btn ghost small" aria-label="Close the job">
          Close
        </Link>
      </div>
      <ErrorText error={job.error} />
      {j && (
        <>
          <dl className="job-facts">
            <dt>Kind</dt>
            <dd>
              <code>{j.kind}</code>
            </dd>
            <dt>State</dt>
            <dd>
              <StateBadge job={j} />
            </dd>
            <dt>Attempts</dt>
            <dd>{attemptsText(j)}</dd>
            {j.key && (
              <>
                <dt>Key</dt>
                <dd className="mono">{j.key}</dd>
              </>
            )}
            <dt>Created</dt>
            <dd>{formatTimestamp(j.created_at)}</dd>
            {j.state === "pending" && j.run_after > j.updated_at && (
              <>
                <dt>Runs after</dt>
                <dd>{formatTimestamp(j.run_after)}</dd>
              </>
            )}
            {j.started_at != null && (
              <>
                <dt>Last started</dt>
                <dd>{formatTimestamp(j.started_at)}</dd>
              </>
            )}
            {j.finished_at != null && (
              <>
                <dt>Finished</dt>
                <dd>{formatTimestamp(j.finished_at)}</dd>
              </>
            )}
            {j.lease_owner && (
              <>
                <dt>Worker</dt>
                <dd className="mono">{j.lease_owner}</dd>
              </>
            )}
          </dl>
          <div className="form-row">
            <button type="button" className="btn" disabled={!can.cancel || cancel.isPending} onClick={() => cancel.mutate()} data-testid="job-cancel">
              {cancel.isPending ? "Cancelling…" : "Cancel"}
            </button>
            <button type="button" className="btn primary" disabled={!can.retry || retry.isPending} onClick={() => retry.mutate()} data-testid="job-retry">
              {retry.isPending ? "Retrying…" : "Retry"}
            </button>
          </div>
          <ErrorText error={cancel.error ?? retry.error} />
          {j.error && (
            <section>
              <h3>Error</h3>
              <pre className="job-json job-error" data-testid="job-error">
                {j.error}
              </pre>
            </section>
          )}
          <section>
            <h3>Payload</h3>
            <pre className="job-json" data-testid="job-payload">
              {JSON.stringify(j.payload, null, 2)}
            </pre>
          </section>
          {j.result && (
            <section>
              <h3>Result</h3>
              <pre className="job-json" data-testid="job-result">
                {JSON.stringify(j.result, null, 2)}
              </pre>
            </section>
          )}
        </>
      )}
    </aside>
  );
}
