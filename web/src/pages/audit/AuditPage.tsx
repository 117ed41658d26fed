// /audit — the whole change-event log for admins (and, for what they manage, MANAGE holders):
// filters kept in the URL, newest first, "Load more" by keyset page token; "Verify chain"
// checks the hash chain; the export downloads the filtered events as JSONL or CSV.
import { useState } from "react";
import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { ErrorText } from "../../lib/widgets";
import { formatCount, formatTimestamp } from "../../lib/format";
import { useSession } from "../auth/session";
import { exportHref, searchAudit, verifyChain, type ChainVerification } from "./api";
import { ActorBadge, ChangeView, EntityRef } from "./Events";
import { ENTITY_TYPES, FILTER_KEYS, filterFromSearch, searchFromFilter, type AuditFilter } from "./query";
import "../../viz/pages.css";
import "./audit.css";

const PAGE = 100;

const FIELDS: { key: (typeof FILTER_KEYS)[number]; label: string; placeholder: string }[] = [
  { key: "actor", label: "Actor", placeholder: "user name" },
  { key: "action", label: "Action", placeholder: "run.set_tag" },
  { key: "entity_type", label: "Entity type", placeholder: "any" },
  { key: "entity_id", label: "Entity id", placeholder: "run id, churn/3…" },
  { key: "experiment_id", label: "Experiment id", placeholder: "any" },
  { key: "model_name", label: "Registered model", placeholder: "any" },
  { key: "since", label: "Since", placeholder: "2026-12-01 or 2026-12-01 09:00" },
  { key: "until", label: "Until", placeholder: "2026-12-04" },
];

export function AuditPage() {
  const { isAdmin } = useSession();
  const [params, setParams] = useSearchParams();
  const filter = filterFromSearch(params);
  const [draft, setDraft] = useState<AuditFilter>(filter);
  const [draftKey, setDraftKey] = useState(params.toString());
  if (draftKey !== params.toString()) {
    // the URL changed (back/forward, a link from a history panel): the form follows it
    setDraftKey(params.toString());
    setDraft(filter);
  }
  const events = useInfiniteQuery({
    queryKey: ["audit", filter, PAGE],
    queryFn: ({ pageParam, signal }) => searchAudit(filter, pageParam, PAGE, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_page_token ?? undefined,
    retry: false,
  });
  const verify = useMutation({ mutationFn: verifyChain });
  const list = events.data?.pages.flatMap((p) => p.events) ?? [];
  const apply = (f: AuditFilter) => setParams(searchFromFilter(f));
  const filtered = FILTER_KEYS.some((k) => filter[k]);
  return (
    <div className="page" data-testid="audit-page">
      <div className="page-head">
        <h1>Audit</h1>
        <div className="form-row">
          {isAdmin && (
            <>
              <button type="button" className="btn" disabled={verify.isPending} onClick={() => verify.mutate()} data-testid="audit-verify">
                {verify.isPending ? "Verifying…" : "Verify chain"}
              </button>
              <span className="muted">Export{filtered ? " these events" : ""}:</span>
              <a className="btn small" href={exportHref(filter, "jsonl")} download="cairn-audit.jsonl" data-testid="audit-export-jsonl">
                JSONL
              </a>
              <a className="btn small" href={exportHref(filter, "csv")} download="cairn-audit.csv" data-testid="audit-export-csv">
                CSV
              </a>
            </>
          )}
        </div>
      </div>
      <p className="muted">
        Every change to experiments, runs, models, users and settings, with who made it and from which request; newest first. Each event's hash covers the one before it, so an edited or
        removed event breaks the chain.
      </p>
      {verify.data && <Verification result={verify.data} />}
      <ErrorText error={verify.error} />
      <form
        className="card box audit-filters"
        aria-label="Filter events"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        {FIELDS.map((f) => (
          <label className="field" key={f.key}>
            <span>{f.label}</span>
            <input
              className="input"
              list={f.key === "entity_type" ? "audit-entity-types" : undefined}
              placeholder={f.placeholder}
              value={draft[f.key] ?? ""}
              onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
              data-testid={`audit-filter-${f.key}`}
            />
          </label>
        ))}
        <datalist id="audit-entity-types">
          {ENTITY_TYPES.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <div className="form-row">
          <button type="submit" className="btn primary" data-testid="audit-apply">
            Filter
          </button>
          <button
            type="button"
            className="btn ghost"
            disabled={!filtered}
            onClick={() => {
              setDraft({});
              apply({});
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <ErrorText error={events.error} />
      {events.isPending && <p className="muted">Loading…</p>}
      {events.isSuccess && list.length === 0 && (
        <div className="empty-state" data-testid="audit-empty">
          <p>{filtered ? "No event matches these filters." : "No events recorded yet."}</p>
        </div>
      )}
      {list.length > 0 && (
        <div className="scroll-x section">
          <table className="data-table audit-table" data-testid="audit-table">
            <thead>
              <tr>
                <th>#</th>
                <th>Time</th>
                <th>Actor</th>
                <th>Action</th>
                <th>Entity</th>
                <th>Change</th>
                <th>Request</th>
              </tr>
            </thead>
            <tbody>
              {list.map((e) => (
                <tr key={e.id} data-testid="audit-row" data-action={e.action} data-event-id={e.id}>
                  <td className="muted">{e.id}</td>
                  <td className="nowrap">{formatTimestamp(e.time)}</td>
                  <td className="nowrap">
                    <ActorBadge event={e} />
                  </td>
                  <td className="nowrap">
                    <code>{e.action}</code>
                  </td>
                  <td>
                    <EntityRef event={e} />
                  </td>
                  <td>
                    <ChangeView before={e.before} after={e.after} />
                  </td>
                  <td className="mono muted" title={[e.request_id && `request ${e.request_id}`, e.address && `from ${e.address}`].filter(Boolean).join(" ") || undefined}>
                    {e.request_id ? e.request_id.slice(0, 12) : "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="form-row">
        {list.length > 0 && <span className="muted">{formatCount(list.length)} events shown</span>}
        {events.hasNextPage && (
          <button type="button" className="btn" disabled={events.isFetchingNextPage} onClick={() => events.fetchNextPage()} data-testid="audit-more">
            {events.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        )}
      </div>
    </div>
  );
}

function Verification({ result }: { result: ChainVerification }) {
  return (
    <div className={`verify-box ${result.ok ? "ok" : "broken"}`} role="status" data-testid="audit-verify-result" data-ok={String(result.ok)}>
      {result.ok ? (
        <>
          <strong>Chain intact.</strong> {formatCount(result.checked)} events checked
          {result.first_id != null && result.head_id != null && ` (#${result.first_id} to #${result.head_id})`}
          {result.head_hash && (
            <>
              ; head hash <code title={result.head_hash}>{result.head_hash.slice(0, 16)}…</code>
            </>
          )}
          .
        </>
      ) : (
        <>
          <strong>Chain broken{result.broken_at != null ? ` at event #${result.broken_at}` : ""}.</strong> {result.reason ?? ""} ({formatCount(result.checked)} events checked)
        </>
      )}
    </div>
  );
}
