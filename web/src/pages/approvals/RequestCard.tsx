// One promotion request: what it asks, its evidence, what changed since, its approvals; and
// Approve / Reject / Cancel with a comment for those allowed (the server's can_approve).
import { useState } from "react";
import { useMutation } from "@tanstack/react-query";
import { Link } from "react-router";
import { ErrorText } from "../../lib/widgets";
import { formatTimestamp } from "../../lib/format";
import { useSession } from "../auth/session";
import { decide, type ApprovalRequest, type Decision } from "./api";
import { useRefreshApprovals } from "./hooks";
import { mayCancel, progress, targetLabel } from "./logic";
import "../audit/audit.css";
import "./approvals.css";

const DONE: Record<Decision, string> = { approve: "Approved", reject: "Rejected", cancel: "Cancelled" };

export function RequestCard({ request: r, showModel = false }: { request: ApprovalRequest; showModel?: boolean }) {
  const { session } = useSession();
  const refresh = useRefreshApprovals();
  const [comment, setComment] = useState("");
  const act = useMutation({
    mutationFn: (v: { decision: Decision; comment: string }) => decide(r.id, v.decision, v.comment),
    onSuccess: () => {
      setComment("");
      return refresh();
    },
  });
  const pending = r.state === "pending";
  const cancel = mayCancel(r, session?.user.username);
  const versionLink = `/models/${encodeURIComponent(r.model_name)}/versions/${encodeURIComponent(r.version)}`;
  const commentId = `request-${r.id}-comment`;
  return (
    <article className={`card box request-card state-${r.state}`} data-testid="request-card" data-request-id={r.id} data-state={r.state} aria-labelledby={`request-${r.id}-title`}>
      <header className="request-head">
        <h3 id={`request-${r.id}-title`}>
          {showModel && (
            <>
              <Link to={`/models/${encodeURIComponent(r.model_name)}`}>{r.model_name}</Link>{" "}
            </>
          )}
          <Link to={versionLink}>version {r.version}</Link> → {targetLabel(r.target)}
          {r.archive_existing_versions && <span className="muted"> (archiving the others)</span>}
        </h3>
        <span className={`badge request-state ${r.state}`} data-testid="request-state">
          {r.state}
        </span>
        <span className="muted">
          #{r.id} · asked by <strong>{r.requested_by}</strong> {formatTimestamp(r.requested_at)} · {progress(r)}
        </span>
      </header>
      {r.comment && <blockquote className="audit-comment">{r.comment}</blockquote>}
      {r.evidence.length > 0 && (
        <ul className="evidence" aria-label="Evidence" data-testid="request-evidence">
          {r.evidence.map((e, i) => (
            <li key={i} className={e.ok ? "ok" : "failed"} data-ok={String(e.ok)}>
              <span aria-hidden="true">{e.ok ? "✓" : "✗"}</span> <span className="sr-only">{e.ok ? "met:" : "not met:"}</span> {e.check}
              {e.detail && <span className="muted"> — {e.detail}</span>}
            </li>
          ))}
        </ul>
      )}
      {r.changes_since_request.length > 0 && (
        <div className="changes-since" role="note" data-testid="request-changes">
          <strong>Changed since the request:</strong>
          <ul>
            {r.changes_since_request.map((c, i) => (
              <li key={i}>{c}</li>
            ))}
          </ul>
        </div>
      )}
      {r.approvals.length > 0 && (
        <ul className="plain-list approvals" aria-label="Approvals">
          {r.approvals.map((a, i) => (
            <li key={i}>
              ✓ approved by <strong>{a.actor}</strong> <span className="muted">{formatTimestamp(a.time)}</span>
              {a.comment && <span> — “{a.comment}”</span>}
            </li>
          ))}
        </ul>
      )}
      {!pending && r.decided_by && (
        <p className="muted" data-testid="request-decision">
          {r.state} by <strong>{r.decided_by}</strong> {formatTimestamp(r.decided_at)}
          {r.decision_comment && <> — “{r.decision_comment}”</>}
        </p>
      )}
      {pending && (r.can_approve || cancel) && (
        <form
          className="form-row decision"
          onSubmit={(e) => {
            e.preventDefault(); // each button says what it does; Enter in the comment does nothing by itself
          }}
        >
          <label htmlFor={commentId} className="sr-only">
            Comment on request {r.id}
          </label>
          <input
            id={commentId}
            className="input"
            placeholder="Comment (optional)"
            value={comment}
            onChange={(e) => setComment(e.target.value)}
            data-testid="request-comment"
          />
          {r.can_approve && (
            <>
              <button type="button" className="btn primary small" disabled={act.isPending} onClick={() => act.mutate({ decision: "approve", comment: comment.trim() })} data-testid="request-approve">
                Approve
              </button>
              <button type="button" className="btn danger small" disabled={act.isPending} onClick={() => act.mutate({ decision: "reject", comment: comment.trim() })} data-testid="request-reject">
                Reject
              </button>
            </>
          )}
          {cancel && (
            <button type="button" className="btn ghost small" disabled={act.isPending} onClick={() => act.mutate({ decision: "cancel", comment: comment.trim() })} data-testid="request-cancel">
              Cancel request
            </button>
          )}
        </form>
      )}
      {pending && !r.can_approve && (
        <p className="note" data-testid="request-waiting">
          Waiting for an approver{r.requested_by === session?.user.username ? ": you cannot approve your own request" : ""}.
        </p>
      )}
      {act.isSuccess && act.variables && (
        <p className="note" role="status">
          {DONE[act.variables.decision]}.
        </p>
      )}
      <ErrorText error={act.error} />
    </article>
  );
}
