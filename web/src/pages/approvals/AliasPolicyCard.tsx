// A registered model's alias policy, for its managers (and admins): which aliases Cairn keeps
// by itself, and the form that sets or removes the policy. The aliases move in the background
// (as the system actor), or become approval requests where the promotion policy covers them.
import { useState } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import { ErrorText } from "../../lib/widgets";
import { formatTimestamp } from "../../lib/format";
import { aliasBodyOf, aliasDraftOf, aliasPolicySummary, deleteAliasPolicy, getAliasPolicy, putAliasPolicy, type AliasDraft, type AliasPolicy } from "./aliasPolicy";
import { useCanManage, usePolicySummary, useRefreshApprovals } from "./hooks";

export function AliasPolicyCard({ name }: { name: string }) {
  const canManage = useCanManage(name);
  const summary = usePolicySummary(name);
  const has = summary.data?.alias_policy;
  const q = useQuery({ queryKey: ["alias-policy", name], queryFn: () => getAliasPolicy(name), retry: false, enabled: canManage && has === true });
  const none = has === false || (q.error instanceof ApiError && q.error.status === 404);
  const policy = none ? null : q.data;
  const pending = summary.isPending || (has === true && q.isPending);
  const [editing, setEditing] = useState(false);
  if (!canManage) return null;
  return (
    <section className="card box alias-policy-card" aria-labelledby="alias-policy-h" data-testid="alias-policy-card">
      <h3 id="alias-policy-h">Automatic aliases</h3>
      <ErrorText error={summary.error ?? (none ? null : q.error)} />
      {pending && <p className="muted">Loading…</p>}
      {!pending && (none || policy) && (
        <p data-testid="alias-policy-summary" className={policy ? undefined : "muted"}>
          {policy ? aliasPolicySummary(policy) : "No alias policy: aliases move only when someone moves them."}
          {policy && (
            <span className="note">
              {" "}
              Set by {policy.updated_by} {formatTimestamp(policy.updated_at)}. Moves are made by <code>system</code>; an alias the promotion policy covers becomes an approval request.
            </span>
          )}
        </p>
      )}
      {!pending && !editing && (
        <button type="button" className="btn small" onClick={() => setEditing(true)} data-testid="alias-policy-edit">
          {policy ? "Edit alias policy" : "Add an alias policy"}
        </button>
      )}
      {editing && <AliasPolicyForm name={name} policy={policy ?? null} onDone={() => setEditing(false)} />}
    </section>
  );
}

function AliasPolicyForm({ name, policy, onDone }: { name: string; policy: AliasPolicy | null; onDone: () => void }) {
  const refresh = useRefreshApprovals();
  const [draft, setDraft] = useState<AliasDraft>(() => aliasDraftOf(policy));
  const [problems, setProblems] = useState<string[]>([]);
  const save = useMutation({
    mutationFn: (fn: () => Promise<unknown>) => fn(),
    onSuccess: () => {
      onDone();
      return refresh();
    },
  });
  const set = (patch: Partial<AliasDraft>) => setDraft({ ...draft, ...patch });
  return (
    <form
      className="policy-form"
      aria-label="Alias policy"
      onSubmit={(e) => {
        e.preventDefault();
        const r = aliasBodyOf(draft);
        if ("problems" in r) setProblems(r.problems);
        else {
          setProblems([]);
          save.mutate(() => putAliasPolicy(name, r.body));
        }
      }}
    >
      <div className="form-row">
        <label>
          <input type="checkbox" checked={draft.latest} onChange={(e) => set({ latest: e.target.checked })} data-testid="alias-latest" /> Keep an alias on the newest version
        </label>
        <label className="field">
          <span>Alias</span>
          <input className="input" value={draft.latest_alias} disabled={!draft.latest} onChange={(e) => set({ latest_alias: e.target.value })} data-testid="alias-latest-name" />
        </label>
      </div>
      <div className="form-row">
        <label>
          <input type="checkbox" checked={draft.best} onChange={(e) => set({ best: e.target.checked })} data-testid="alias-best" /> Keep an alias on the best version by
        </label>
        <label className="field">
          <span>Metric of the source run</span>
          <input className="input" value={draft.best_metric} placeholder="test_f1" disabled={!draft.best} onChange={(e) => set({ best_metric: e.target.value })} data-testid="alias-best-metric" />
        </label>
        <label className="field">
          <span>Best is</span>
          <select className="input" value={draft.best_direction} disabled={!draft.best} onChange={(e) => set({ best_direction: e.target.value === "min" ? "min" : "max" })} data-testid="alias-best-direction">
            <option value="max">highest</option>
            <option value="min">lowest</option>
          </select>
        </label>
        <label className="field">
          <span>Alias</span>
          <input className="input" value={draft.best_alias} disabled={!draft.best} onChange={(e) => set({ best_alias: e.target.value })} data-testid="alias-best-name" />
        </label>
      </div>
      {problems.length > 0 && (
        <ul className="error-box" role="alert" data-testid="alias-policy-problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <ErrorText error={save.error} />
      <div className="form-row">
        <button type="submit" className="btn primary small" disabled={save.isPending} data-testid="alias-policy-save">
          Save alias policy
        </button>
        <button type="button" className="btn small" onClick={onDone}>
          Cancel
        </button>
        {policy && (
          <button type="button" className="btn small ghost danger" disabled={save.isPending} onClick={() => save.mutate(() => deleteAliasPolicy(name))} data-testid="alias-policy-delete">
            Remove alias policy
          </button>
        )}
      </div>
    </form>
  );
}
