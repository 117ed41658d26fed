// /evaluations/jobs/:id — one evaluation job: its model and experiment, per-benchmark state,
// phase and progress, results, the tail of its log, links to the experiment and every run,
// and Cancel. Live through the job's Server-Sent Events stream (GET …/jobs/{id}/stream); if
// the stream cannot be opened the page polls every 2 s while the job is unfinished.
import { useEffect, useRef, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { Crumbs, ErrorText } from "../../lib/widgets";
import { formatDuration, formatTimestamp } from "../../lib/format";
import { cancelEvalJob, EVALS, getEvalJob, getEvalLogs, type EvalBenchmark, type EvalJob, type LogLine } from "./api";
import { formatScore, isLive, jobProgress, LIVE_MS, modelLabel } from "./logic";
import { BenchmarkBar, StateBadge } from "./widgets";
import "../../viz/pages.css";
import "./evaluations.css";

const LOG_KEEP = 500;

/** Follow the job's SSE stream into the query cache; false when it could not be opened. */
function useJobStream(id: string, live: boolean): boolean {
  const client = useQueryClient();
  const [ok, setOk] = useState(true);
  useEffect(() => {
    if (!live || typeof EventSource === "undefined") return;
    const source = new EventSource(`${EVALS}/jobs/${encodeURIComponent(id)}/stream`);
    source.addEventListener("job", (e) => {
      try {
        const job = JSON.parse((e as MessageEvent<string>).data) as EvalJob;
        client.setQueryData(["eval-job", id], job);
        if (!isLive(job.state)) source.close();
      } catch {
        /* a malformed event: the poll fallback still runs */
      }
    });
    source.onerror = () => {
      source.close();
      setOk(false);
    };
    return () => source.close();
  }, [id, live, client]);
  return ok;
}

/** The job's log, read on from the last line seen: every 2 s while the job is live, once
 * more when it ends; the last LOG_KEEP lines kept. */
function useLogTail(id: string, live: boolean) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const cursor = useRef({ id, after: 0 });
  const logs = useQuery({
    queryKey: ["eval-logs", id],
    queryFn: async ({ signal }) => {
      if (cursor.current.id !== id) cursor.current = { id, after: 0 };
      const from = cursor.current.after;
      const page = await getEvalLogs(id, from, signal);
      if (page.lines.length > 0) {
        cursor.current.after = page.next ?? page.lines[page.lines.length - 1].seq;
        setLines((old) => {
          const kept = from === 0 ? [] : old;
          const seen = new Set(kept.map((l) => l.seq));
          return [...kept, ...page.lines.filter((l) => !seen.has(l.seq))].slice(-LOG_KEEP);
        });
      }
      return page;
    },
    staleTime: 0,
    refetchInterval: live ? LIVE_MS : false,
    retry: false,
  });
  const { refetch } = logs;
  useEffect(() => {
    if (!live) void refetch();
  }, [live, refetch]);
  return { lines, error: logs.error };
}

export function EvaluationJobPage() {
  const { id = "" } = useParams();
  const client = useQueryClient();
  const job = useQuery({
    queryKey: ["eval-job", id],
    queryFn: ({ signal }) => getEvalJob(id, signal),
    retry: false,
  });
  const live = job.data ? isLive(job.data.state) : false;
  const streaming = useJobStream(id, live);
  // the stream keeps the cache fresh; without it, poll
  useQuery({
    queryKey: ["eval-job-poll", id],
    queryFn: async ({ signal }) => {
      const fresh = await getEvalJob(id, signal);
      client.setQueryData(["eval-job", id], fresh);
      return fresh.state;
    },
    enabled: live && !streaming,
    refetchInterval: LIVE_MS,
    retry: false,
  });
  const logs = useLogTail(id, live);
  const cancel = useMutation({
    mutationFn: () => cancelEvalJob(id),
    onSuccess: (updated) => {
      if (updated && typeof updated === "object" && "state" in updated) client.setQueryData(["eval-job", id], updated);
      void client.invalidateQueries({ queryKey: ["eval-job", id] });
      void client.invalidateQueries({ queryKey: ["eval-jobs"] });
    },
  });
  const trail = [{ to: "/evaluations", label: "Evaluations" }];
  if (job.isError) {
    return (
      <div className="page">
        <Crumbs trail={trail} />
        <ErrorText error={job.error} />
      </div>
    );
  }
  if (!job.data) return <div className="page muted">Loading…</div>;
  const j = job.data;
  const p = jobProgress(j);
  const took = j.started_at != null ? (j.finished_at ?? Date.now()) - j.started_at : null;
  return (
    <div className="page" data-testid="eval-job-page" data-state={j.state}>
      <Crumbs trail={trail} />
      <div className="page-head">
        <h1>
          Evaluation <span className="mono">{j.id}</span> <StateBadge state={j.state} testId="eval-job-state" />
        </h1>
        <button type="button" className="btn" disabled={!live || cancel.isPending} onClick={() => cancel.mutate()} data-testid="eval-cancel">
          {cancel.isPending ? "Cancelling…" : "Cancel"}
        </button>
      </div>
      <ErrorText error={cancel.error} />
      <div className="grid-2 section">
        <div className="card box">
          <dl className="eval-facts">
            <dt>Model</dt>
            <dd>
              {j.model.registered_name ? (
                <Link to={`/models/${encodeURIComponent(j.model.registered_name)}${j.model.registered_version != null ? `/versions/${j.model.registered_version}` : ""}`} data-testid="eval-model-link">
                  {modelLabel(j.model)}
                </Link>
              ) : (
                modelLabel(j.model)
              )}
              {j.model.registered_name && <span className="muted mono"> ({j.model.name})</span>}
            </dd>
            {j.model.server && (
              <>
                <dt>Server</dt>
                <dd>{j.model.server}</dd>
              </>
            )}
            {j.model.url && (
              <>
                <dt>URL</dt>
                <dd className="mono">{j.model.url}</dd>
              </>
            )}
            <dt>Experiment</dt>
            <dd>
              <Link to={`/experiments/${j.experiment_id}`} data-testid="eval-experiment-link">
                {j.experiment_name || `experiment ${j.experiment_id}`}
              </Link>
            </dd>
            <dt>Parent run</dt>
            <dd>
              {j.parent_run_id ? (
                <Link to={`/runs/${j.parent_run_id}`} className="mono" data-testid="eval-parent-run">
                  eval-{j.id}
                </Link>
              ) : (
                <span className="muted">not yet</span>
              )}
            </dd>
            {j.collection_id && (
              <>
                <dt>Collection</dt>
                <dd>{j.collection_id}</dd>
              </>
            )}
            <dt>Created</dt>
            <dd>
              {formatTimestamp(j.created_at)} by {j.created_by}
            </dd>
            {took != null && (
              <>
                <dt>{j.finished_at != null ? "Took" : "Running for"}</dt>
                <dd>{formatDuration(took)}</dd>
              </>
            )}
            {Object.keys(j.tags).length > 0 && (
              <>
                <dt>Tags</dt>
                <dd>
                  {Object.entries(j.tags).map(([k, v]) => (
                    <span key={k} className="tag">
                      {k}={v}
                    </span>
                  ))}
                </dd>
              </>
            )}
          </dl>
        </div>
        <div className="card box">
          <dl className="eval-facts">
            <dt>Benchmarks</dt>
            <dd data-testid="eval-done">
              {p.done} of {p.total} done
            </dd>
            <dt>Overall score</dt>
            <dd className="mono" data-testid="eval-overall">
              {formatScore(j.overall_score)}
            </dd>
            <dt>Passed</dt>
            <dd>{j.passed == null ? <span className="muted">no pass criteria</span> : j.passed ? <span className="eval-pass">passed</span> : <span className="eval-fail">failed</span>}</dd>
            <dt>Live</dt>
            <dd className="muted">{live ? (streaming ? "streaming (server-sent events)" : "polling every 2 s") : "finished"}</dd>
          </dl>
          {j.error && (
            <pre className="eval-bench-error" data-testid="eval-job-error">
              {j.error}
            </pre>
          )}
        </div>
      </div>
      <section className="section" aria-labelledby="bench-h">
        <h2 id="bench-h">Benchmarks</h2>
        <div className="scroll-x">
          <table className="data-table eval-table" data-testid="eval-benchmarks">
            <thead>
              <tr>
                <th>#</th>
                <th>Benchmark</th>
                <th>State</th>
                <th>Progress</th>
                <th className="num">Score</th>
                <th>Pass</th>
                <th>Results</th>
                <th>Run</th>
              </tr>
            </thead>
            <tbody>
              {j.benchmarks.map((b) => (
                <BenchmarkRow key={b.index} b={b} />
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section className="section" aria-labelledby="logs-h">
        <h2 id="logs-h">Log</h2>
        <ErrorText error={logs.error} />
        {logs.lines.length === 0 ? (
          <p className="muted">No log lines yet.</p>
        ) : (
          <pre className="eval-logs" data-testid="eval-logs">
            {logs.lines.map((l) => `${new Date(l.time).toISOString().slice(11, 19)} ${l.index != null ? `[${j.benchmarks[l.index]?.benchmark_id ?? l.index}] ` : ""}${l.line}`).join("\n")}
          </pre>
        )}
      </section>
    </div>
  );
}

function BenchmarkRow({ b }: { b: EvalBenchmark }) {
  const results = Object.entries(b.results ?? {}).sort(([x], [y]) => x.localeCompare(y));
  return (
    <tr className="eval-bench-row" data-testid="eval-benchmark" data-state={b.state}>
      <td>{b.index}</td>
      <td>
        <strong>{b.benchmark_id}</strong>
        <div className="muted" style={{ fontSize: 11 }}>
          {b.provider_id}
          {b.weight !== 1 ? ` · weight ${b.weight}` : ""}
        </div>
      </td>
      <td>
        <StateBadge state={b.state} testId="eval-benchmark-state" />
        {b.phase && <div className="muted" style={{ fontSize: 11 }}>{b.phase}</div>}
      </td>
      <td style={{ minWidth: 140 }}>
        <BenchmarkBar b={b} />
        {b.progress != null && b.state === "running" && <span className="muted" style={{ fontSize: 11 }}>{Math.round(b.progress * 100)}%</span>}
      </td>
      <td className="num">
        {formatScore(b.primary_score)}
        {b.primary_metric && (
          <div className="muted" style={{ fontSize: 11 }}>
            {b.primary_metric}
            {b.lower_is_better ? " (lower is better)" : ""}
          </div>
        )}
      </td>
      <td>
        {b.threshold == null ? <span className="muted">—</span> : b.passed == null ? <span className="muted">≥ {b.threshold}</span> : b.passed ? <span className="eval-pass">pass</span> : <span className="eval-fail">fail</span>}
      </td>
      <td className="eval-results">
        {results.slice(0, 8).map(([k, v]) => (
          <div key={k}>
            {k}: {formatScore(v)}
          </div>
        ))}
        {results.length > 8 && <div className="muted">+{results.length - 8} more on the run</div>}
        {b.error && <div className="eval-bench-error">{b.error}</div>}
      </td>
      <td>
        {b.run_id ? (
          <Link to={`/runs/${b.run_id}`} data-testid="eval-benchmark-run">
            run
          </Link>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
    </tr>
  );
}
