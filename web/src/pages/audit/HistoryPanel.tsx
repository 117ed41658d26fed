// "Who changed this": the change-event log of one run, experiment, registered model or model
// version, newest first, 20 at a time ("Load more" follows the keyset page token).
import { useInfiniteQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { ApiError } from "../../api/http";
import { useSession } from "../auth/session";
import { searchAudit } from "./api";
import { EventItem } from "./Events";
import { auditLink, subjectFilter, type HistorySubject } from "./query";
import "../../viz/pages.css";
import "./audit.css";

const PAGE = 20;

const NOUNS: Record<HistorySubject["kind"], string> = { run: "run", experiment: "experiment", model: "registered model", version: "model version" };

export function HistoryPanel({ subject, title = "History", bare = false }: { subject: HistorySubject; title?: string; bare?: boolean }) {
  const { isAdmin, authEnabled } = useSession();
  const filter = subjectFilter(subject);
  const events = useInfiniteQuery({
    queryKey: ["audit", filter, PAGE],
    queryFn: ({ pageParam, signal }) => searchAudit(filter, pageParam, PAGE, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_page_token ?? undefined,
    retry: false,
  });
  const list = events.data?.pages.flatMap((p) => p.events) ?? [];
  const refused = events.error instanceof ApiError && events.error.status === 403;
  const noun = NOUNS[subject.kind];
  const body = (
    <>
      {refused && (
        <p className="muted" data-testid="history-refused">
          Only admins and those who manage this {noun === "run" ? "run's experiment" : noun === "model version" ? "registered model" : noun} see its history.
        </p>
      )}
      {events.error && !refused && <div className="error-box">{(events.error as Error).message}</div>}
      {events.isPending && <p className="muted">Loading…</p>}
      {events.isSuccess && list.length === 0 && (
        <p className="muted" data-testid="history-empty">
          {authEnabled && !isAdmin ? `No changes you may see: the history of a ${noun} shows to admins and to those who manage it.` : "No recorded changes yet."}
        </p>
      )}
      {list.length > 0 && (
        <div className="audit-scroll">
          <ol className="timeline audit-timeline" data-testid="history-list">
            {list.map((e) => (
              <EventItem key={e.id} event={e} showEntity={subject.kind === "experiment" || subject.kind === "model"} />
            ))}
          </ol>
        </div>
      )}
      <div className="form-row">
        {events.hasNextPage && (
          <button type="button" className="btn small" disabled={events.isFetchingNextPage} onClick={() => events.fetchNextPage()} data-testid="history-more">
            {events.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        )}
        {isAdmin && !refused && (
          <Link to={auditLink(filter)} className="small-link">
            Open in Audit
          </Link>
        )}
      </div>
    </>
  );
  if (bare) return <div data-testid="history-panel">{body}</div>;
  const id = `history-${subject.kind}`;
  return (
    <section className="card box section" aria-labelledby={id} data-testid="history-panel">
      <h2 id={id}>{title}</h2>
      {body}
    </section>
  );
}
