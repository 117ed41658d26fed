// Small widgets any page uses: a query's error, a searched list's states, a detail page's crumbs.
import { Fragment, type ReactNode } from "react";
import { Link } from "react-router";

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

/** The links up to a detail page (its list, then any parent), each followed by " /". */
export function Crumbs({ trail }: { trail: { to: string; label: ReactNode }[] }) {
  return (
    <div className="crumbs">
      {trail.map((c, i) => (
        <Fragment key={c.to}>
          {i > 0 && " "}
          <Link to={c.to}>{c.label}</Link> /
        </Fragment>
      ))}
    </div>
  );
}

/** `ref={focusOnMount}`: focus the element when it appears (Preact leaves `autoFocus` to the
 * browser, which honours it once per page load only). */
export function focusOnMount(el: HTMLElement | null): void {
  el?.focus();
}
