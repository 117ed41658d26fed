// Shared state of the approval widgets: whether the caller manages a model, and refreshing
// everything a decision changes.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { listGrants } from "../auth/api";
import { getPolicySummary } from "./api";
import { useSession } from "../auth/session";

/** True when the caller may change the model's policy: access control off, an admin, or
 * MANAGE on the model (the permissions API tells the caller's own permission). */
export function useCanManage(name: string): boolean {
  const { session, authEnabled, isAdmin } = useSession();
  const grants = useQuery({
    queryKey: ["grants", "registered_model", name],
    queryFn: () => listGrants("registered_model", name),
    enabled: !!session && authEnabled && !isAdmin && !!name,
    retry: false,
  });
  if (!session) return false;
  if (!authEnabled || isAdmin) return true;
  return grants.data?.caller_permission === "MANAGE";
}

/** After a request, a decision or a policy change: the lists, the model and its versions,
 * and the history panels. */
/** The model's policy summary (shared by the policy cards). */
export function usePolicySummary(name: string) {
  return useQuery({ queryKey: ["policy-summary", name], queryFn: ({ signal }) => getPolicySummary(name, signal), retry: false });
}

export function useRefreshApprovals(): () => Promise<unknown> {
  const client = useQueryClient();
  return () =>
    Promise.all(
      ["approval-requests", "policy-summary", "promotion-policy", "alias-policy", "model", "model-perf", "model-history", "model-version", "models", "audit"].map((k) =>
        client.invalidateQueries({ queryKey: [k] }),
      ),
    );
}
