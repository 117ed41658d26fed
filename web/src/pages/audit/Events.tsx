// The pieces of an event as the history panels and the Audit page show it: who (with the kind
// of actor), when (the request id and address on hover or focus), and what changed.
import { Link } from "react-router";
import { formatTimestamp, relativeTime } from "../../lib/format";
import type { AuditEvent } from "./api";
import { diffRows, shorten } from "./diff";
import { entityLabel, entityLink } from "./entity";

export function ActorBadge({ event }: { event: Pick<AuditEvent, "actor" | "actor_kind" | "claimed_user"> }) {
  const claimed = event.claimed_user && event.claimed_user !== event.actor ? event.claimed_user : null;
  return (
    <span className="audit-actor" data-testid="event-actor">
      <strong>{event.actor}</strong>
      <span className={`badge kind-${event.actor_kind}`} title={KIND_TITLES[event.actor_kind] ?? event.actor_kind}>
        {event.actor_kind}
      </span>
      {claimed && (
        <span className="muted" title="The user the client said it was (mlflow.user): recorded, not checked">
          {" "}
          as {claimed}
        </span>
      )}
    </span>
  );
}

const KIND_TITLES: Record<string, string> = {
  user: "A person (signed in, or the local user when access control is off)",
  token: "An API token of this user",
  system: "Cairn itself (garbage collection, retention, a CLI command)",
};

/** The time of an event; the request id and the address it came from on hover and focus. */
export function EventTime({ event }: { event: Pick<AuditEvent, "time" | "request_id" | "address" | "id"> }) {
  const origin = [event.request_id && `request ${event.request_id}`, event.address && `from ${event.address}`, `event #${event.id}`].filter(Boolean).join(" · ");
  return (
    <time className="when" dateTime={new Date(event.time).toISOString()} title={`${formatTimestamp(event.time)} · ${origin}`} tabIndex={0} aria-label={`${formatTimestamp(event.time)}, ${origin}`} data-testid="event-time">
      {relativeTime(event.time)}
    </time>
  );
}

/** before → after, one line per changed key; a comment (an approval's, a decision's) as a quote. */
export function ChangeView({ before, after }: Pick<AuditEvent, "before" | "after">) {
  const rows = diffRows(before, after);
  const comment = rows.find((r) => r.key === "comment" && r.after);
  const rest = rows.filter((r) => r !== comment && r.kind !== "same");
  if (!rows.length) return null;
  return (
    <>
      {comment?.after && (
        <blockquote className="audit-comment" data-testid="event-comment">
          {comment.after}
        </blockquote>
      )}
      {rest.length > 0 && (
        <ul className="audit-diff" data-testid="event-diff">
          {rest.map((r) => (
            <li key={r.key} className={`diff-${r.kind}`} data-key={r.key}>
              <code className="diff-key">{r.key}</code>{" "}
              {r.kind === "added" && <ins title={r.after}>{shorten(r.after ?? "")}</ins>}
              {r.kind === "removed" && (
                <>
                  <del title={r.before}>{shorten(r.before ?? "")}</del> <span className="muted">removed</span>
                </>
              )}
              {r.kind === "changed" && (
                <>
                  <del title={r.before}>{shorten(r.before ?? "")}</del> <span aria-label="changed to">→</span> <ins title={r.after}>{shorten(r.after ?? "")}</ins>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** An event's entity as a link to its page (or plain text when the app has no page for it). */
export function EntityRef({ event }: { event: AuditEvent }) {
  const to = entityLink(event);
  const label = entityLabel(event);
  return to ? (
    <Link to={to} className="mono" title={event.entity_id}>
      {label}
    </Link>
  ) : (
    <span className="mono">{label}</span>
  );
}

/** One event in a history timeline. `showEntity` when the panel covers several entities (an
 * experiment's runs, a model's versions). */
export function EventItem({ event, showEntity }: { event: AuditEvent; showEntity: boolean }) {
  return (
    <li className="audit-event" data-testid="history-entry" data-action={event.action} data-event-id={event.id}>
      <div className="audit-line">
        <code className="audit-action">{event.action}</code>
        {showEntity && <EntityRef event={event} />}
        <span className="muted">by</span>
        <ActorBadge event={event} />
        <EventTime event={event} />
      </div>
      <ChangeView before={event.before} after={event.after} />
    </li>
  );
}
