// /requests — promotion requests across models, pending first by default: the approvers' list.
// The state and model filters are in the URL.
import { useInfiniteQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { ErrorText } from "../../lib/widgets";
import { listRequests, REQUEST_STATES } from "./api";
import { stateOf } from "./logic";
import { RequestCard } from "./RequestCard";
import "../../viz/pages.css";
import "../audit/audit.css";
import "./approvals.css";

export function RequestsPage() {
  const [params, setParams] = useSearchParams();
  const state = stateOf(params.get("state"));
  const model = params.get("model_name") ?? "";
  const requests = useInfiniteQuery({
    queryKey: ["approval-requests", { state, model_name: model, page: "list" }],
    queryFn: ({ pageParam }) => listRequests({ state, model_name: model, page_token: pageParam }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_page_token ?? undefined,
    retry: false,
  });
  const list = requests.data?.pages.flatMap((p) => p.requests) ?? [];
  const setParam = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next);
  };
  return (
    <div className="page" data-testid="requests-page">
      <div className="page-head">
        <h1>Promotion requests</h1>
      </div>
      <p className="muted">Requests to move a model version to a stage or an alias that a promotion policy guards. Approvers approve or reject here or on the model's page.</p>
      <div className="toolbar">
        <label>
          state
          <select className="input" value={state || "all"} onChange={(e) => setParam("state", e.target.value === "pending" ? "" : e.target.value)} data-testid="requests-state">
            {REQUEST_STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
            <option value="all">all</option>
          </select>
        </label>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setParam("model_name", String(new FormData(e.currentTarget).get("model") ?? "").trim());
          }}
        >
          <label>
            model{" "}
            <input className="input" name="model" key={model} defaultValue={model} placeholder="any (Enter to apply)" data-testid="requests-model" />
          </label>
        </form>
      </div>
      <ErrorText error={requests.error} />
      {requests.isPending && <p className="muted">Loading…</p>}
      {requests.isSuccess && list.length === 0 && (
        <div className="empty-state" data-testid="requests-empty">
          <p>No {state || ""} requests{model ? ` for ${model}` : ""}.</p>
        </div>
      )}
      <div className="request-list">
        {list.map((r) => (
          <RequestCard key={r.id} request={r} showModel />
        ))}
      </div>
      {requests.hasNextPage && (
        <button type="button" className="btn" disabled={requests.isFetchingNextPage} onClick={() => requests.fetchNextPage()} data-testid="requests-more">
          Load more
        </button>
      )}
    </div>
  );
}
