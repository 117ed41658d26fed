// /webhooks — the webhooks the caller may see (admins: all; others: those scoped to what they
// manage), a form to create one with the events as checkboxes, and the selected hook's
// delivery log with each attempt's status, latency and answer; test, redeliver, disable.
import { useState } from "react";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { formatTimestamp, relativeTime } from "../../lib/format";
import { ErrorText } from "../../lib/widgets";
import { createWebhook, deleteWebhook, listDeliveries, listEvents, listWebhooks, redeliver, setStatus, testWebhook, type Delivery, type TestResult, type Webhook } from "./api";
import { bodyOf, draftProblems, EMPTY_DRAFT, eventName, excerpt, groupEvents, outcomeText, scopeText, toggle, type Draft } from "./logic";
import "../../viz/pages.css";
import "./webhooks.css";

export function WebhooksPage() {
  const client = useQueryClient();
  const hooks = useQuery({ queryKey: ["webhooks"], queryFn: () => listWebhooks(), retry: false });
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const list = hooks.data?.webhooks ?? [];
  const current = list.find((h) => h.webhook_id === selected) ?? list[0] ?? null;
  const refresh = () => client.invalidateQueries({ queryKey: ["webhooks"] });
  return (
    <div className="page" data-testid="webhooks-page">
      <div className="page-head">
        <h1>Webhooks</h1>
        <button type="button" className="btn primary" onClick={() => setCreating((v) => !v)} data-testid="webhook-new">
          {creating ? "Close" : "New webhook"}
        </button>
      </div>
      <p className="muted">
        Cairn POSTs the events a webhook subscribes to, signed as MLflow signs them (<code>X-MLflow-Signature</code>), retrying failures; every attempt is kept below. Hooks for all events are for
        admins; a hook scoped to an experiment or model is for its managers.
      </p>
      {creating && (
        <CreateForm
          onCreated={(hook) => {
            setCreating(false);
            setSelected(hook.webhook_id);
            return refresh();
          }}
        />
      )}
      <ErrorText error={hooks.error} />
      {hooks.isPending && <p className="muted">Loading…</p>}
      {hooks.isSuccess && list.length === 0 && (
        <div className="empty-state" data-testid="webhooks-empty">
          <p>No webhooks yet.</p>
        </div>
      )}
      {list.length > 0 && (
        <table className="data-table webhook-table" data-testid="webhooks-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>URL</th>
              <th>Events</th>
              <th>Scope</th>
              <th>Status</th>
            </tr>
          </thead>
          <tbody>
            {list.map((h) => (
              <tr
                key={h.webhook_id}
                className={current?.webhook_id === h.webhook_id ? "selected" : ""}
                onClick={() => setSelected(h.webhook_id)}
                data-testid="webhook-row"
                data-name={h.name}
              >
                <td>
                  <button type="button" className="link-button" onClick={() => setSelected(h.webhook_id)}>
                    {h.name}
                  </button>
                  {h.has_secret && (
                    <span className="badge" title="Deliveries are signed">
                      signed
                    </span>
                  )}
                </td>
                <td className="mono wrap">{h.url}</td>
                <td className="mono">{h.events.map(eventName).join(", ")}</td>
                <td>{scopeText(h.scope)}</td>
                <td>
                  <span className={`badge status-${h.status.toLowerCase()}`} data-testid="webhook-status">
                    {h.status}
                  </span>
                  {h.consecutive_failures > 0 && <span className="muted small"> {h.consecutive_failures} failed in a row</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {current && <HookDetail key={current.webhook_id} hook={current} onChanged={refresh} />}
    </div>
  );
}

function CreateForm({ onCreated }: { onCreated: (hook: Webhook) => Promise<unknown> }) {
  const events = useQuery({ queryKey: ["webhook-events"], queryFn: listEvents, staleTime: Infinity });
  const [draft, setDraft] = useState<Draft>(EMPTY_DRAFT);
  const create = useMutation({ mutationFn: () => createWebhook(bodyOf(draft)), onSuccess: onCreated });
  const problems = draftProblems(draft);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const groups = (kind: "mlflow" | "cairn") => groupEvents(events.data?.[kind] ?? []);
  return (
    <form
      className="card box webhook-form"
      data-testid="webhook-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (problems.length === 0) create.mutate();
      }}
    >
      <div className="webhook-fields">
        <label className="field">
          <span>Name</span>
          <input className="input" value={draft.name} onChange={(e) => set("name", e.target.value)} data-testid="webhook-name" />
        </label>
        <label className="field">
          <span>URL</span>
          <input className="input" value={draft.url} placeholder="https://ci.example/hooks/cairn" onChange={(e) => set("url", e.target.value)} data-testid="webhook-url" />
        </label>
        <label className="field">
          <span>Secret (signs deliveries; never shown again)</span>
          <input className="input" type="password" autoComplete="new-password" value={draft.secret} onChange={(e) => set("secret", e.target.value)} data-testid="webhook-secret" />
        </label>
        <label className="field">
          <span>Description</span>
          <input className="input" value={draft.description} onChange={(e) => set("description", e.target.value)} data-testid="webhook-description" />
        </label>
        <label className="field">
          <span>Scope</span>
          <select className="input" value={draft.scopeKind} onChange={(e) => set("scopeKind", e.target.value as Draft["scopeKind"])} data-testid="webhook-scope">
            <option value="global">all events (admins)</option>
            <option value="experiment">one experiment</option>
            <option value="model">one registered model</option>
          </select>
        </label>
        {draft.scopeKind !== "global" && (
          <label className="field">
            <span>{draft.scopeKind === "experiment" ? "Experiment id" : "Model name"}</span>
            <input className="input" value={draft.scopeValue} onChange={(e) => set("scopeValue", e.target.value)} data-testid="webhook-scope-value" />
          </label>
        )}
      </div>
      <ErrorText error={events.error} />
      <div className="webhook-events">
        {(["mlflow", "cairn"] as const).map((kind) => (
          <fieldset key={kind} data-testid={`webhook-events-${kind}`}>
            <legend>{kind === "mlflow" ? "MLflow events" : "Cairn events"}</legend>
            {groups(kind).map((g) => (
              <div key={g.entity} className="event-group">
                <span className="muted small">{g.entity}</span>
                {g.events.map((name) => (
                  <label key={name} className="event-check">
                    <input type="checkbox" checked={draft.events.includes(name)} onChange={(e) => set("events", toggle(draft.events, name, e.target.checked))} data-testid={`event-${name}`} />
                    {name.slice(g.entity.length + 1)}
                  </label>
                ))}
              </div>
            ))}
          </fieldset>
        ))}
      </div>
      {create.error && <ErrorText error={create.error} />}
      <div className="form-row">
        <button type="submit" className="btn primary" disabled={problems.length > 0 || create.isPending} data-testid="webhook-create">
          Create webhook
        </button>
        {problems.length > 0 && <span className="muted small">Needs {problems.join(", ")}.</span>}
      </div>
    </form>
  );
}

function HookDetail({ hook, onChanged }: { hook: Webhook; onChanged: () => Promise<unknown> }) {
  const client = useQueryClient();
  const deliveries = useInfiniteQuery({
    queryKey: ["webhook-deliveries", hook.webhook_id],
    queryFn: ({ pageParam }) => listDeliveries(hook.webhook_id, pageParam),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_page_token ?? undefined,
    retry: false,
  });
  const reload = () => Promise.all([onChanged(), client.invalidateQueries({ queryKey: ["webhook-deliveries", hook.webhook_id] })]);
  const [tested, setTested] = useState<TestResult | null>(null);
  const test = useMutation({
    mutationFn: () => testWebhook(hook.webhook_id),
    onSuccess: (result) => {
      setTested(result);
      return reload();
    },
  });
  const toggleStatus = useMutation({ mutationFn: () => setStatus(hook.webhook_id, hook.status === "ACTIVE" ? "DISABLED" : "ACTIVE"), onSuccess: reload });
  const remove = useMutation({ mutationFn: () => deleteWebhook(hook.webhook_id), onSuccess: onChanged });
  const again = useMutation({ mutationFn: redeliver, onSuccess: reload });
  const rows = deliveries.data?.pages.flatMap((p) => p.deliveries) ?? [];
  return (
    <section className="section" data-testid="webhook-detail">
      <div className="page-head">
        <h2>
          {hook.name} <span className="muted small">{hook.webhook_id}</span>
        </h2>
        <div className="form-row">
          <button type="button" className="btn" onClick={() => test.mutate()} disabled={test.isPending} data-testid="webhook-test">
            Send test event
          </button>
          <button type="button" className="btn" onClick={() => toggleStatus.mutate()} disabled={toggleStatus.isPending} data-testid="webhook-toggle">
            {hook.status === "ACTIVE" ? "Disable" : "Enable"}
          </button>
          <button
            type="button"
            className="btn danger"
            onClick={() => {
              if (window.confirm(`Delete webhook ${hook.name} and its delivery log?`)) remove.mutate();
            }}
            data-testid="webhook-delete"
          >
            Delete
          </button>
        </div>
      </div>
      {hook.description && <p>{hook.description}</p>}
      {tested && (
        <div className={`webhook-result ${tested.success ? "ok" : "broken"}`} role="status" data-testid="webhook-test-result">
          {tested.success ? `Test delivered: HTTP ${tested.response_status}` : `Test failed: ${tested.error_message ?? `HTTP ${tested.response_status}`}`}
        </div>
      )}
      <ErrorText error={test.error ?? toggleStatus.error ?? remove.error ?? again.error ?? deliveries.error} />
      <h3>Deliveries</h3>
      {deliveries.isSuccess && rows.length === 0 && <p className="muted">Nothing delivered yet.</p>}
      {rows.length > 0 && (
        <table className="data-table delivery-table" data-testid="deliveries-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Event</th>
              <th>State</th>
              <th>Attempts</th>
              <th>Outcome</th>
              <th>Latency</th>
              <th>Response</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <DeliveryRow key={d.delivery_id} delivery={d} onRedeliver={() => again.mutate(d.delivery_id)} busy={again.isPending} />
            ))}
          </tbody>
        </table>
      )}
      {deliveries.hasNextPage && (
        <button type="button" className="btn" onClick={() => deliveries.fetchNextPage()} disabled={deliveries.isFetchingNextPage} data-testid="deliveries-more">
          Load more
        </button>
      )}
    </section>
  );
}

function DeliveryRow({ delivery: d, onRedeliver, busy }: { delivery: Delivery; onRedeliver: () => void; busy: boolean }) {
  return (
    <tr data-testid="delivery-row" data-state={d.state}>
      <td className="nowrap" title={formatTimestamp(d.created_at)}>
        {relativeTime(d.created_at)}
      </td>
      <td className="mono">
        {d.entity}.{d.action}
        {d.event_id === null && <span className="badge">test</span>}
      </td>
      <td>
        <span className={`badge delivery-${d.state}`}>{d.state}</span>
      </td>
      <td title={d.attempt_log.map((a) => `#${a.number} ${formatTimestamp(a.time)}: ${a.status_code ?? a.error ?? "?"}`).join("\n")}>{d.attempts}</td>
      <td className="wrap" data-testid="delivery-outcome">
        {outcomeText(d)}
      </td>
      <td className="nowrap">{d.latency_ms !== null && d.latency_ms !== undefined ? `${d.latency_ms} ms` : "–"}</td>
      <td className="mono wrap" title={d.response_excerpt ?? ""} data-testid="delivery-response">
        {excerpt(d.response_excerpt)}
      </td>
      <td>
        {d.state !== "pending" && (
          <button type="button" className="btn small" onClick={onRedeliver} disabled={busy} data-testid="delivery-redeliver">
            Redeliver
          </button>
        )}
      </td>
    </tr>
  );
}
