// The model page's approvals: the promotion policy, the alias policy (managers only), the pending requests of this model (with
// approve / reject / cancel for those allowed) and the rollback of Production.
import { useState } from "react";
import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { Link } from "react-router";
import { ErrorText } from "../../lib/widgets";
import { AliasPolicyCard } from "./AliasPolicyCard";
import { isApplied, listRequests, rollback } from "./api";
import { useRefreshApprovals } from "./hooks";
import { PolicyCard } from "./PolicyCard";
import { RequestCard } from "./RequestCard";
import "./approvals.css";

export function ModelApprovals({ name, hasProduction }: { name: string; hasProduction: boolean }) {
  const pending = useInfiniteQuery({
    queryKey: ["approval-requests", { state: "pending", model_name: name }],
    queryFn: ({ pageParam }) => listRequests({ state: "pending", model_name: name, page_token: pageParam }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_page_token ?? undefined,
    retry: false,
  });
  const requests = pending.data?.pages.flatMap((p) => p.requests) ?? [];
  return (
    <section className="section approvals" aria-labelledby="approvals-h" data-testid="model-approvals">
      <h2 id="approvals-h">Approvals</h2>
      <div className="grid-2">
        <PolicyCard name={name} />
        <Rollback name={name} enabled={hasProduction} />
      </div>
      <AliasPolicyCard name={name} />
      <h3 className="section">
        Pending requests{requests.length ? ` (${requests.length}${pending.hasNextPage ? "+" : ""})` : ""}{" "}
        <Link to={`/requests?model_name=${encodeURIComponent(name)}`} className="small-link">
          all requests of this model
        </Link>
      </h3>
      <ErrorText error={pending.error} />
      {pending.isSuccess && requests.length === 0 && (
        <p className="muted" data-testid="no-pending">
          No pending requests. Ask for one on a version's page.
        </p>
      )}
      <div className="request-list">
        {requests.map((r) => (
          <RequestCard key={r.id} request={r} />
        ))}
      </div>
      {pending.hasNextPage && (
        <button type="button" className="btn small" onClick={() => pending.fetchNextPage()}>
          Load more
        </button>
      )}
    </section>
  );
}

function Rollback({ name, enabled }: { name: string; enabled: boolean }) {
  const refresh = useRefreshApprovals();
  const [comment, setComment] = useState("");
  const go = useMutation({
    mutationFn: (why: string) => rollback(name, "Production", why),
    onSuccess: () => {
      setComment("");
      return refresh();
    },
  });
  return (
    <section className="card box" aria-labelledby="rollback-h" data-testid="rollback-card">
      <h3 id="rollback-h">Roll back Production</h3>
      <p className="muted">Puts the version that was in Production before the current one back there, through the same policy (it may need approval).</p>
      <form
        className="form-row"
        onSubmit={(e) => {
          e.preventDefault();
          go.mutate(comment.trim());
        }}
      >
        <input className="input" placeholder="Why (optional)" value={comment} onChange={(e) => setComment(e.target.value)} aria-label="Rollback comment" data-testid="rollback-comment" />
        <button type="submit" className="btn danger small" disabled={!enabled || go.isPending} title={enabled ? undefined : "No version is in Production"} data-testid="rollback-submit">
          Roll back
        </button>
      </form>
      {go.data && (
        <p role="status" data-testid="rollback-result">
          {isApplied(go.data) ? `Version ${go.data.version ?? "?"} is back in Production.` : `Request #${go.data.id} is waiting for approval.`}
        </p>
      )}
      <ErrorText error={go.error} />
    </section>
  );
}
