// /experiments/:id/traces: the experiment's traces, newest first, filtered with the search
// language of docs/tracing.md (the filter lives in the URL, so a run can link to its traces).
import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import { getExperiment } from "../../api/mlflow";
import { formatDuration, formatTimestamp, plural } from "../../lib/format";
import { ErrorText } from "../../lib/widgets";
import { searchTraces, type TraceInfo } from "./api";
import { ExperimentTabs } from "./ExperimentTabs";
import { durationMs, tokenUsage } from "./spans";
import "../../viz/pages.css";
import "./traces.css";

const EXAMPLES = "trace.status = 'ERROR' · span.name = 'retrieve' · tags.team = 'red' · trace.text LIKE '%hello%' · trace.execution_time_ms > 1000";

export function traceName(t: TraceInfo): string {
  return t.tags?.["mlflow.traceName"] || t.trace_id;
}

export function TraceState({ state }: { state: string }) {
  const cls = state === "OK" ? "FINISHED" : state === "ERROR" ? "FAILED" : state === "IN_PROGRESS" ? "RUNNING" : "";
  return <span className={`badge ${cls}`}>{state || "—"}</span>;
}

function Tokens({ t }: { t: TraceInfo }) {
  const u = tokenUsage(t.trace_metadata);
  if (!u) return <span className="faint">—</span>;
  return (
    <span title={`input ${u.input ?? "?"} · output ${u.output ?? "?"}`}>{(u.total ?? (u.input ?? 0) + (u.output ?? 0)).toLocaleString()}</span>
  );
}

export function TracesPage() {
  const { id = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const filter = params.get("filter") ?? "";
  const [draft, setDraft] = useState(filter);
  const experiment = useQuery({ queryKey: ["experiment", id], queryFn: ({ signal }) => getExperiment(id, signal) });
  const traces = useInfiniteQuery({
    queryKey: ["traces", id, filter],
    queryFn: ({ pageParam, signal }) => searchTraces(id, filter, pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextPageToken,
    retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2,
  });
  const rows = traces.data?.pages.flatMap((p) => p.traces) ?? [];
  const apply = (text: string) => {
    setDraft(text);
    const next = new URLSearchParams(params);
    if (text.trim()) next.set("filter", text.trim());
    else next.delete("filter");
    setParams(next, { replace: true });
  };

  if (experiment.error instanceof ApiError && experiment.error.status === 404) {
    return (
      <div className="page">
        <div className="empty-state" role="alert">
          <h2>Experiment not found</h2>
          <p>
            No experiment has the id <code>{id}</code> here. <Link to="/">Back to the experiments</Link>
          </p>
        </div>
      </div>
    );
  }

  return (
    <div className="page traces-page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/">Experiments</Link> <span aria-hidden="true">/</span>
      </nav>
      <h1>{experiment.data?.name ?? "…"}</h1>
      <ExperimentTabs id={id} current="traces" />
      <form
        className="trace-search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <label className="sr-only" htmlFor="trace-filter">
          Filter traces
        </label>
        <input
          id="trace-filter"
          className="input mono"
          data-testid="trace-filter"
          value={draft}
          placeholder={EXAMPLES}
          spellCheck={false}
          onChange={(e) => setDraft((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Escape" && draft) {
              e.preventDefault();
              apply("");
            }
          }}
        />
        <button type="submit" className="btn">
          Search
        </button>
        {filter && (
          <button type="button" className="btn" onClick={() => apply("")}>
            Clear
          </button>
        )}
      </form>
      <p className="muted" data-testid="trace-count">
        {traces.isSuccess && `${plural(rows.length, "trace")}${traces.hasNextPage ? " so far" : ""}${filter ? " match" + (rows.length === 1 ? "es" : "") : ""}`}
      </p>
      <ErrorText error={traces.error} />
      {traces.isPending ? (
        <p className="muted">Loading…</p>
      ) : traces.isSuccess && rows.length === 0 ? (
        <div className="empty-state">
          <p>
            {filter
              ? "No trace matches this filter."
              : "No traces in this experiment yet. Code instrumented with @mlflow.trace, an autologger or any OpenTelemetry exporter pointed at this server logs them here."}
          </p>
        </div>
      ) : (
        rows.length > 0 && (
          <div className="table-scroll">
            <table className="data-table traces-table" data-testid="traces-table">
              <thead>
                <tr>
                  <th>Trace</th>
                  <th>Request time</th>
                  <th>Status</th>
                  <th className="num">Latency</th>
                  <th className="num">Tokens</th>
                  <th>Request</th>
                  <th>Response</th>
                  <th>Run</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((t) => {
                  const run = t.trace_metadata?.["mlflow.sourceRun"];
                  return (
                    <tr key={t.trace_id} data-testid="trace-row">
                      <td>
                        <Link to={`/experiments/${id}/traces/${encodeURIComponent(t.trace_id)}`}>{traceName(t)}</Link>
                      </td>
                      <td className="nowrap">{formatTimestamp(Date.parse(t.request_time))}</td>
                      <td>
                        <TraceState state={t.state} />
                      </td>
                      <td className="num">{formatDuration(durationMs(t.execution_duration))}</td>
                      <td className="num">
                        <Tokens t={t} />
                      </td>
                      <td className="preview mono" title={t.request_preview}>
                        {t.request_preview}
                      </td>
                      <td className="preview mono" title={t.response_preview}>
                        {t.response_preview}
                      </td>
                      <td>{run ? <Link to={`/runs/${run}`}>{run.slice(0, 8)}</Link> : <span className="faint">—</span>}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )
      )}
      {traces.hasNextPage && (
        <button type="button" className="btn" disabled={traces.isFetchingNextPage} onClick={() => void traces.fetchNextPage()}>
          {traces.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </div>
  );
}
