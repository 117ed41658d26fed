// /experiments/:id/traces/:traceId: one trace: its span tree beside a timeline, the selected
// span's inputs, outputs, attributes and events, and the trace's assessments.
import { useMemo, useState, type KeyboardEvent } from "react";
import { Link, useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import { getExperiment } from "../../api/mlflow";
import { formatDuration, formatTimestamp } from "../../lib/format";
import { Crumbs, ErrorText } from "../../lib/widgets";
import { getTrace, type WireAssessment } from "./api";
import { buildSpanTree, durationMs, spanTime, timelineBar, tokenUsage, type SpanNode } from "./spans";
import { TraceState, traceName } from "./TracesPage";
import "../../viz/pages.css";
import "./traces.css";

function Json({ value, testId }: { value: unknown; testId?: string }) {
  if (value === undefined) return <p className="faint">—</p>;
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return (
    <pre className="json mono" data-testid={testId}>
      {text}
    </pre>
  );
}

function assessmentValue(a: WireAssessment): string {
  if (a.feedback) {
    if (a.feedback.error) return `error: ${a.feedback.error.error_message ?? a.feedback.error.error_code ?? ""}`;
    return JSON.stringify(a.feedback.value ?? null);
  }
  if (a.expectation?.serialized_value) return a.expectation.serialized_value.value ?? "";
  return JSON.stringify(a.expectation?.value ?? null);
}

function SpanDetail({ span }: { span: SpanNode }) {
  const attrs = Object.entries(span.attributes);
  return (
    <div className="card box span-detail" data-testid="span-detail">
      <h2>
        {span.name} {span.type && <span className="badge">{span.type}</span>} <span className={`badge ${span.status === "ERROR" ? "FAILED" : span.status === "OK" ? "FINISHED" : ""}`}>{span.status}</span>
      </h2>
      <p className="muted">
        {span.duration === null ? "not ended" : spanTime(span.duration)} · starts at +{spanTime(span.offset)}
        {span.statusMessage && ` · ${span.statusMessage}`}
      </p>
      <h3>Inputs</h3>
      <Json value={span.inputs} testId="span-inputs" />
      <h3>Outputs</h3>
      <Json value={span.outputs} testId="span-outputs" />
      <h3>Attributes</h3>
      {attrs.length === 0 ? (
        <p className="faint">—</p>
      ) : (
        <table className="data-table" data-testid="span-attributes">
          <tbody>
            {attrs.map(([k, v]) => (
              <tr key={k}>
                <th className="mono">{k}</th>
                <td className="mono">{typeof v === "string" ? v : JSON.stringify(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Events</h3>
      {span.events.length === 0 ? (
        <p className="faint">—</p>
      ) : (
        <ul className="span-events" data-testid="span-events">
          {span.events.map((e, i) => (
            <li key={i}>
              <strong>{e.name}</strong> <span className="muted">+{spanTime(e.at)}</span>
              {Object.keys(e.attributes).length > 0 && <Json value={e.attributes} />}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function TracePage() {
  const { id = "", traceId = "" } = useParams();
  const q = useQuery({
    queryKey: ["trace", traceId],
    queryFn: ({ signal }) => getTrace(traceId, signal),
    retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2,
  });
  // the trace's own experiment (a link may name another one)
  const experimentId = q.data?.trace_info.trace_location?.mlflow_experiment?.experiment_id ?? id;
  const experiment = useQuery({ queryKey: ["experiment", experimentId], queryFn: ({ signal }) => getExperiment(experimentId, signal) });
  const tree = useMemo(() => buildSpanTree(q.data?.spans ?? []), [q.data]);
  const [picked, setPicked] = useState<string | null>(null);
  const selected = tree.rows.find((r) => r.id === picked) ?? tree.rows[0];
  const trail = [
    { to: "/", label: "Experiments" },
    { to: `/experiments/${experimentId}/traces`, label: `${experiment.data?.name ?? `experiment ${experimentId}`} traces` },
  ];

  if (q.error instanceof ApiError && q.error.status === 404) {
    return (
      <div className="page">
        <Crumbs trail={trail} />
        <div className="empty-state" role="alert">
          <h2>Trace not found</h2>
          <p>
            No trace has the id <code>{traceId}</code> here. <Link to={`/experiments/${id}/traces`}>Back to the traces</Link>
          </p>
        </div>
      </div>
    );
  }
  if (q.isError) {
    return (
      <div className="page">
        <Crumbs trail={trail} />
        <ErrorText error={q.error} />
      </div>
    );
  }
  if (!q.data) return <div className="page muted">Loading…</div>;
  const info = q.data.trace_info;
  const tokens = tokenUsage(info.trace_metadata);
  const run = info.trace_metadata?.["mlflow.sourceRun"];
  const tags = Object.entries(info.tags ?? {}).filter(([k]) => !k.startsWith("mlflow."));
  const assessments = info.assessments ?? [];

  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const i = tree.rows.findIndex((r) => r.id === selected?.id);
    const next = e.key === "ArrowDown" ? i + 1 : e.key === "ArrowUp" ? i - 1 : e.key === "Home" ? 0 : e.key === "End" ? tree.rows.length - 1 : -2;
    if (next === -2) return;
    e.preventDefault();
    const row = tree.rows[Math.max(0, Math.min(tree.rows.length - 1, next))];
    if (!row) return;
    setPicked(row.id);
    (e.currentTarget.querySelector(`[data-span="${CSS.escape(row.id)}"]`) as HTMLElement | null)?.focus();
  };

  return (
    <div className="page trace-page" data-testid="trace-page">
      <Crumbs trail={trail} />
      <h1>
        {traceName(info)} <TraceState state={info.state} />
      </h1>
      <dl className="kv trace-kv card box">
        <dt>Trace id</dt>
        <dd className="mono">{info.trace_id}</dd>
        <dt>Request time</dt>
        <dd>{formatTimestamp(Date.parse(info.request_time))}</dd>
        <dt>Latency</dt>
        <dd>{formatDuration(durationMs(info.execution_duration)) || "—"}</dd>
        {tokens && (
          <>
            <dt>Tokens</dt>
            <dd data-testid="trace-tokens">
              {tokens.total ?? "?"} (input {tokens.input ?? "?"}, output {tokens.output ?? "?"})
            </dd>
          </>
        )}
        {run && (
          <>
            <dt>Run</dt>
            <dd>
              <Link to={`/runs/${run}`} data-testid="trace-run-link">
                {run}
              </Link>
            </dd>
          </>
        )}
        {tags.length > 0 && (
          <>
            <dt>Tags</dt>
            <dd>
              {tags.map(([k, v]) => (
                <span key={k} className="badge mono">
                  {k}={v}
                </span>
              ))}
            </dd>
          </>
        )}
      </dl>
      <div className="trace-grid">
        <section className="trace-spans" aria-label="Spans">
          <h2>Spans ({tree.rows.length})</h2>
          {tree.rows.length === 0 ? (
            <p className="empty-state">This trace has no spans stored.</p>
          ) : (
            <div className="span-tree" role="tree" aria-label="Span tree" onKeyDown={onKey} data-testid="span-tree">
              {tree.rows.map((s) => {
                const bar = timelineBar(s, tree.total);
                const on = s.id === selected?.id;
                return (
                  <button
                    type="button"
                    role="treeitem"
                    aria-selected={on}
                    aria-level={s.depth + 1}
                    tabIndex={on ? 0 : -1}
                    key={s.id}
                    data-span={s.id}
                    data-testid="span-row"
                    className={`span-row${on ? " on" : ""}`}
                    onClick={() => setPicked(s.id)}
                  >
                    <span className="span-name" style={{ paddingLeft: `${s.depth * 16}px` }}>
                      {s.name}
                      {s.type && <span className="faint"> {s.type}</span>}
                    </span>
                    <span className="span-track" aria-hidden="true">
                      <span className={`span-bar${s.status === "ERROR" ? " error" : ""}`} style={{ left: `${bar.left}%`, width: `${bar.width}%` }} />
                    </span>
                    <span className="span-dur muted">{spanTime(s.duration)}</span>
                  </button>
                );
              })}
            </div>
          )}
        </section>
        {selected && <SpanDetail span={selected} />}
      </div>
      <section className="section" aria-label="Assessments">
        <h2>Assessments</h2>
        {assessments.length === 0 ? (
          <p className="faint">No feedback or expectations logged for this trace.</p>
        ) : (
          <table className="data-table" data-testid="assessments">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Value</th>
                <th>Source</th>
                <th>Rationale</th>
              </tr>
            </thead>
            <tbody>
              {assessments.map((a) => (
                <tr key={a.assessment_id} className={a.valid === false ? "faint" : undefined}>
                  <td>
                    {a.assessment_name}
                    {a.valid === false && " (overridden)"}
                  </td>
                  <td>{a.feedback ? "feedback" : "expectation"}</td>
                  <td className="mono">{assessmentValue(a)}</td>
                  <td>
                    {a.source?.source_type ?? ""} {a.source?.source_id && <span className="muted">{a.source.source_id}</span>}
                  </td>
                  <td>{a.rationale ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
