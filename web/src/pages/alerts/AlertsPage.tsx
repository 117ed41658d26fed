// /alerts — metric alerts: firing and resolved alerts (acknowledge), the alert rules the user
// may read, and a form to create a rule. The state filter is in the URL.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { formatTimestamp, relativeTime } from "../../lib/format";
import { ErrorText } from "../../lib/widgets";
import { acknowledge, createRule, deleteRule, listAlerts, listRules, OPS, RULE_KINDS, type AlertState } from "./api";
import { bodyOf, condition, DraftError, EMPTY_DRAFT, scopeOf, subjectLink, usesMetric, type Draft } from "./logic";
import "../../viz/pages.css";
import "./alerts.css";

const STATES: (AlertState | "all")[] = ["firing", "resolved", "all"];

function stateOf(text: string | null): AlertState | "" {
  return text === "resolved" ? "resolved" : text === "all" ? "" : "firing";
}

export function AlertsPage() {
  const [params, setParams] = useSearchParams();
  const state = stateOf(params.get("state"));
  const client = useQueryClient();
  const alerts = useInfiniteQuery({
    queryKey: ["alerts", "list", state],
    queryFn: ({ pageParam }) => listAlerts({ state, page_token: pageParam }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_page_token ?? undefined,
    retry: false,
  });
  const ack = useMutation({
    mutationFn: acknowledge,
    onSuccess: () => client.invalidateQueries({ queryKey: ["alerts"] }),
  });
  const list = alerts.data?.pages.flatMap((p) => p.alerts) ?? [];
  return (
    <div className="page" data-testid="alerts-page">
      <div className="page-head">
        <h1>Alerts</h1>
      </div>
      <p className="muted">
        Metric alerts open when a rule is breached (a threshold, a drop against the best or previous run, a NaN or infinite value, a stalled or failed run) and resolve when it no longer is.
      </p>
      <section className="alerts-section">
        <div className="toolbar">
          <label>
            state{" "}
            <select
              className="input"
              value={state || "all"}
              onChange={(e) => setParams(e.target.value === "firing" ? {} : { state: e.target.value })}
              data-testid="alerts-state"
            >
              {STATES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        </div>
        <ErrorText error={alerts.error ?? ack.error} />
        {alerts.isPending && <p className="muted">Loading…</p>}
        {alerts.isSuccess && list.length === 0 && (
          <div className="empty-state" data-testid="alerts-empty">
            <p>No {state} alerts.</p>
          </div>
        )}
        {list.length > 0 && (
          <table className="data-table" data-testid="alerts-table">
            <thead>
              <tr>
                <th>State</th>
                <th>Rule</th>
                <th>Subject</th>
                <th>Message</th>
                <th>Fired</th>
                <th>Resolved</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map((a) => (
                <tr key={a.id} data-testid="alert-row">
                  <td>
                    <span className={`badge alert-state ${a.state}`}>{a.state}</span>
                  </td>
                  <td>{a.rule_name}</td>
                  <td>
                    <Link to={subjectLink(a)}>{a.subject_type === "run" ? `run ${a.subject_id.slice(0, 8)}` : a.subject_id}</Link>
                  </td>
                  <td className="alert-message">{a.message}</td>
                  <td title={formatTimestamp(a.fired_at)}>{relativeTime(a.fired_at)}</td>
                  <td title={a.resolved_at ? formatTimestamp(a.resolved_at) : ""}>{a.resolved_at ? relativeTime(a.resolved_at) : "—"}</td>
                  <td>
                    {a.acknowledged_by ? (
                      <span className="muted">seen by {a.acknowledged_by}</span>
                    ) : (
                      <button type="button" className="btn" disabled={ack.isPending} onClick={() => ack.mutate(a.id)} data-testid="alert-ack">
                        Acknowledge
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {alerts.hasNextPage && (
          <button type="button" className="btn" disabled={alerts.isFetchingNextPage} onClick={() => alerts.fetchNextPage()}>
            Load more
          </button>
        )}
      </section>
      <RulesSection />
    </div>
  );
}

function RulesSection() {
  const client = useQueryClient();
  const rules = useQuery({ queryKey: ["alerts", "rules"], queryFn: () => listRules(), retry: false });
  const remove = useMutation({
    mutationFn: deleteRule,
    onSuccess: () => client.invalidateQueries({ queryKey: ["alerts"] }),
  });
  const found = rules.data?.rules ?? [];
  return (
    <section className="alerts-section">
      <h2>Rules</h2>
      <ErrorText error={rules.error ?? remove.error} />
      {rules.isSuccess && found.length === 0 && <p className="muted">No alert rules yet.</p>}
      {found.length > 0 && (
        <table className="data-table" data-testid="rules-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Kind</th>
              <th>Condition</th>
              <th>Scope</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {found.map((r) => (
              <tr key={r.id} data-testid="rule-row">
                <td>
                  {r.name}
                  {!r.enabled && <span className="muted"> (disabled)</span>}
                  {r.seeded && <span className="muted"> (from the experiment tag)</span>}
                </td>
                <td>{r.kind}</td>
                <td>{condition(r)}</td>
                <td>{scopeOf(r)}</td>
                <td title={formatTimestamp(r.created_at)}>
                  {r.created_by}, {relativeTime(r.created_at)}
                </td>
                <td>
                  <button
                    type="button"
                    className="btn ghost"
                    disabled={remove.isPending}
                    onClick={() => window.confirm(`Delete the rule "${r.name}"? Its firing alerts are resolved.`) && remove.mutate(r.id)}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2 className="new-rule">New rule</h2>
      <RuleForm />
    </section>
  );
}

function RuleForm() {
  const client = useQueryClient();
  const [draft, setDraft] = useState<Draft>(EMPTY_DRAFT);
  const [problem, setProblem] = useState<DraftError | null>(null);
  const create = useMutation({
    mutationFn: createRule,
    onSuccess: () => {
      setDraft(EMPTY_DRAFT);
      return client.invalidateQueries({ queryKey: ["alerts"] });
    },
  });
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const invalid = (field: keyof Draft) => (problem?.field === field ? "input invalid" : "input");
  const submit = () => {
    try {
      const body = bodyOf(draft);
      setProblem(null);
      create.mutate(body);
    } catch (e) {
      if (e instanceof DraftError) setProblem(e);
      else throw e;
    }
  };
  return (
    <form
      className="card box rule-form"
      data-testid="rule-form"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <label>
        name
        <input className={invalid("name")} value={draft.name} onChange={(e) => set("name", e.target.value)} data-testid="rule-name" />
      </label>
      <label>
        kind
        <select className={invalid("kind")} value={draft.kind} onChange={(e) => set("kind", e.target.value as Draft["kind"])} data-testid="rule-kind">
          {RULE_KINDS.map((k) => (
            <option key={k}>{k}</option>
          ))}
        </select>
      </label>
      <label>
        scope
        <select className="input" value={draft.scope} onChange={(e) => set("scope", e.target.value as Draft["scope"])} data-testid="rule-scope">
          <option value="experiment">experiment</option>
          <option value="model">registered model</option>
        </select>
      </label>
      <label>
        {draft.scope === "experiment" ? "experiment id" : "model name"}
        <input className={invalid("target")} value={draft.target} onChange={(e) => set("target", e.target.value)} data-testid="rule-target" />
      </label>
      {draft.scope === "experiment" && (
        <label>
          filter (search language)
          <input className={invalid("filter")} value={draft.filter} placeholder="tags.team = 'lims'" onChange={(e) => set("filter", e.target.value)} data-testid="rule-filter" />
        </label>
      )}
      {usesMetric(draft.kind) && (
        <label>
          metric
          <input className={invalid("metric")} value={draft.metric} placeholder="val_loss" onChange={(e) => set("metric", e.target.value)} data-testid="rule-metric" />
        </label>
      )}
      {draft.kind === "threshold" && (
        <label>
          operator
          <select className="input" value={draft.op} onChange={(e) => set("op", e.target.value)} data-testid="rule-op">
            {OPS.map((o) => (
              <option key={o}>{o}</option>
            ))}
          </select>
        </label>
      )}
      {(draft.kind === "threshold" || draft.kind === "drop") && (
        <label>
          {draft.kind === "drop" ? "allowed drop" : "value"}
          <input className={invalid("value")} value={draft.value} inputMode="decimal" onChange={(e) => set("value", e.target.value)} data-testid="rule-value" />
        </label>
      )}
      {draft.kind === "drop" && (
        <>
          <label>
            against
            <select className="input" value={draft.against} onChange={(e) => set("against", e.target.value as Draft["against"])}>
              <option value="best">the best</option>
              <option value="previous">the previous</option>
            </select>
          </label>
          <label>
            measured as
            <select className="input" value={draft.measure} onChange={(e) => set("measure", e.target.value as Draft["measure"])}>
              <option value="percent">percent</option>
              <option value="absolute">absolute</option>
            </select>
          </label>
          <label>
            better is
            <select className="input" value={draft.direction} onChange={(e) => set("direction", e.target.value as Draft["direction"])}>
              <option value="">guessed from the name</option>
              <option value="max">higher</option>
              <option value="min">lower</option>
            </select>
          </label>
        </>
      )}
      {draft.kind === "stalled" && (
        <label>
          minutes without a metric
          <input className={invalid("minutes")} value={draft.minutes} inputMode="numeric" onChange={(e) => set("minutes", e.target.value)} data-testid="rule-minutes" />
        </label>
      )}
      <div className="form-actions">
        <button type="submit" className="btn primary" disabled={create.isPending} data-testid="rule-create">
          Create rule
        </button>
        {problem && (
          <span className="field-problem" role="alert" data-testid="rule-problem">
            {problem.message}
          </span>
        )}
        <ErrorText error={create.error} />
      </div>
    </form>
  );
}
