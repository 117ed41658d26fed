// Small widgets any page uses: a query's error, a searched list's states.
import type { ReactNode } from "react";

export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div className="error-box" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </div>
  );
}

/** A searched list's states: the query's error, "Loading…" while it is pending, `empty` in an
 * empty-state box when it found nothing, else the list. */
export function ListBody({ query, count, empty, children }: { query: { isPending: boolean; error: unknown }; count: number; empty: ReactNode; children: ReactNode }) {
  return (
    <>
      <ErrorText error={query.error} />
      {query.isPending ? (
        <p className="muted">Loading…</p>
      ) : count === 0 ? (
        <div className="empty-state">
          <p>{empty}</p>
        </div>
      ) : (
        children
      )}
    </>
  );
}
