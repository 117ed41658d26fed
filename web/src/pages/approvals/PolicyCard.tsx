// A registered model's promotion policy: its summary for everyone, and for MANAGE holders (and
// admins) the form that sets or removes it.
import { useState } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import { ErrorText } from "../../lib/widgets";
import { formatTimestamp } from "../../lib/format";
import { deletePolicy, getPolicy, putPolicy, type Policy } from "./api";
import { useCanManage, usePolicySummary, useRefreshApprovals } from "./hooks";
import { bodyOf, draftOf, policySummary, type PolicyDraft } from "./logic";

const GUARDABLE_STAGES = ["Staging", "Production", "Archived"];

export function usePolicy(name: string) {
  const summary = usePolicySummary(name);
  const has = summary.data?.promotion_policy;
  const q = useQuery({ queryKey: ["promotion-policy", name], queryFn: () => getPolicy(name), retry: false, enabled: has === true });
  const none = has === false || (q.error instanceof ApiError && q.error.status === 404);
  return {
    policy: none ? null : q.data,
    isPending: summary.isPending || (has === true && q.isPending),
    error: summary.error ?? (none ? null : q.error),
  };
}

export function PolicyCard({ name }: { name: string }) {
  const { policy, isPending, error } = usePolicy(name);
  const canManage = useCanManage(name);
  const [editing, setEditing] = useState(false);
  return (
    <section className="card box" aria-labelledby="policy-h" data-testid="policy-card">
      <h3 id="policy-h">Promotion policy</h3>
      <ErrorText error={error} />
      {isPending && <p className="muted">Loading…</p>}
      {!isPending && !error && (
        <p data-testid="policy-summary" className={policy ? undefined : "muted"}>
          {policy ? policySummary(policy) : "No policy: whoever may edit this model moves its versions at once."}
          {policy?.updated_by && (
            <span className="note">
              {" "}
              Set by {policy.updated_by}
              {policy.updated_at ? ` ${formatTimestamp(policy.updated_at)}` : ""}.
            </span>
          )}
        </p>
      )}
      {canManage && !isPending && !editing && (
        <button type="button" className="btn small" onClick={() => setEditing(true)} data-testid="policy-edit">
          {policy ? "Edit policy" : "Add a policy"}
        </button>
      )}
      {editing && <PolicyForm name={name} policy={policy ?? null} onDone={() => setEditing(false)} />}
    </section>
  );
}

function PolicyForm({ name, policy, onDone }: { name: string; policy: Policy | null; onDone: () => void }) {
  const refresh = useRefreshApprovals();
  const [draft, setDraft] = useState<PolicyDraft>(() => draftOf(policy));
  const [problems, setProblems] = useState<string[]>([]);
  const save = useMutation({
    mutationFn: (fn: () => Promise<unknown>) => fn(),
    onSuccess: () => {
      onDone();
      return refresh();
    },
  });
  const set = (patch: Partial<PolicyDraft>) => setDraft({ ...draft, ...patch });
  return (
    <form
      className="policy-form"
      aria-label="Promotion policy"
      onSubmit={(e) => {
        e.preventDefault();
        const r = bodyOf(draft);
        if ("problems" in r) setProblems(r.problems);
        else {
          setProblems([]);
          save.mutate(() => putPolicy(name, r.body));
        }
      }}
    >
      <fieldset className="form-row">
        <legend>Stages that need approval</legend>
        {GUARDABLE_STAGES.map((s) => (
          <label key={s}>
            <input
              type="checkbox"
              checked={draft.stages.includes(s)}
              onChange={(e) => set({ stages: e.target.checked ? [...draft.stages, s] : draft.stages.filter((x) => x !== s) })}
              data-testid={`policy-stage-${s}`}
            />{" "}
            {s}
          </label>
        ))}
      </fieldset>
      <label className="field">
        <span>Aliases that need approval (comma-separated)</span>
        <input className="input" value={draft.aliases} placeholder="champion" onChange={(e) => set({ aliases: e.target.value })} data-testid="policy-aliases" />
      </label>
      <div className="form-row">
        <label className="field">
          <span>Approvals needed</span>
          <input className="input" type="number" min={1} value={draft.required_approvals} onChange={(e) => set({ required_approvals: e.target.value })} data-testid="policy-approvals" />
        </label>
        <label className="field">
          <span>Approver role (empty: the model's managers)</span>
          <input className="input" value={draft.approver_role} placeholder="ml-leads" onChange={(e) => set({ approver_role: e.target.value })} data-testid="policy-role" />
        </label>
      </div>
      <label className="field">
        <span>
          Evidence the version must have, one rule a line: its source run's <code>tag KEY = VALUE</code> or <code>metric KEY &gt;= NUMBER</code>, or <code>evaluation COLLECTION passed</code> (a job of that evaluation collection ran on the version)
        </span>
        <textarea
          className="input mono"
          rows={3}
          value={draft.evidence}
          placeholder={"tag Approval_Status = Approved\nmetric test_f1 >= 0.85"}
          onChange={(e) => set({ evidence: e.target.value })}
          data-testid="policy-evidence"
        />
      </label>
      {problems.length > 0 && (
        <ul className="error-box" role="alert" data-testid="policy-problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <ErrorText error={save.error} />
      <div className="form-row">
        <button type="submit" className="btn primary small" disabled={save.isPending} data-testid="policy-save">
          Save policy
        </button>
        <button type="button" className="btn small" onClick={onDone}>
          Cancel
        </button>
        {policy && (
          <button type="button" className="btn small ghost danger" disabled={save.isPending} onClick={() => save.mutate(() => deletePolicy(name))} data-testid="policy-delete">
            Remove policy
          </button>
        )}
      </div>
    </form>
  );
}
