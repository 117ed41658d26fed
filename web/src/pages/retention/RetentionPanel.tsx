// The "Retention" panel of an experiment: the policy that applies to its runs (its own, or the
// global one), a form to set or remove its own (MANAGE on the experiment), and a dry run that
// lists what the form's rule would delete now, changing nothing. See docs/retention.md.
import { useEffect, useState } from "react";
import { Link } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { failureText } from "../auth/logic";
import { deletePolicy, dryRun, FINISHED_STATUSES, getPolicies, putPolicy, type RetentionReport } from "./api";
import { bodyOf, describe, formOf, reportText, type Form } from "./logic";
import "../../viz/pages.css";
import "./retention.css";

export function RetentionPanel({ experimentId }: { experimentId: string }) {
  const client = useQueryClient();
  const key = ["retention", experimentId];
  const policies = useQuery({ queryKey: key, queryFn: () => getPolicies(experimentId), retry: false });
  const own = policies.data?.own ?? null;
  const global = policies.data?.global ?? null;
  const [form, setForm] = useState<Form>(formOf(null));
  const [preview, setPreview] = useState<RetentionReport | null>(null);
  useEffect(() => {
    if (policies.isSuccess) setForm(formOf(policies.data.own));
  }, [policies.isSuccess, policies.data]);
  const parsed = bodyOf(form);
  const save = useMutation({
    mutationFn: () => ("body" in parsed ? putPolicy(experimentId, parsed.body) : Promise.reject(new Error(parsed.error))),
    onSuccess: () => client.invalidateQueries({ queryKey: key }),
  });
  const remove = useMutation({ mutationFn: () => deletePolicy(experimentId), onSuccess: () => client.invalidateQueries({ queryKey: key }) });
  const check = useMutation({
    mutationFn: () => ("body" in parsed ? dryRun(experimentId, parsed.body) : Promise.reject(new Error(parsed.error))),
    onSuccess: setPreview,
  });
  const busy = save.isPending || remove.isPending || check.isPending;
  const set = (patch: Partial<Form>) => {
    setForm({ ...form, ...patch });
    setPreview(null);
  };
  const failure = save.error ?? remove.error ?? check.error;
  return (
    <section className="card box retention-panel" aria-labelledby="retention-title" data-testid="retention-panel">
      <h3 id="retention-title">Retention</h3>
      <p data-testid="retention-current">
        {own ? (
          <>
            <strong>This experiment's policy{own.enabled ? "" : " (disabled)"}:</strong> {describe(own)}
            <span className="muted"> Set by {own.updated_by}.</span>
          </>
        ) : global ? (
          <>
            <strong>The global policy{global.enabled ? "" : " (disabled)"} applies:</strong> {describe(global)}
          </>
        ) : policies.isSuccess ? (
          <span className="muted">No retention policy applies: runs stay until someone deletes them.</span>
        ) : null}
      </p>
      <p className="muted">
        Never deleted: runs still running, runs behind a registered model version and runs tagged <code>cairn.keep</code>. Deleted runs can be restored until{" "}
        <code>cairn gc</code> purges them.
      </p>
      {policies.error && <div className="error-box">{failureText(policies.error, "read the retention policies")}</div>}
      <form
        className="retention-form"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <label className="field">
          Delete runs that ended more than (days)
          <input className="input" inputMode="numeric" value={form.days} onChange={(e) => set({ days: e.target.value })} data-testid="retention-days" />
        </label>
        <fieldset className="retention-statuses">
          <legend>Only these statuses (none ticked: all finished runs)</legend>
          {FINISHED_STATUSES.map((s) => (
            <label key={s} className="check">
              <input
                type="checkbox"
                checked={form.statuses.includes(s)}
                onChange={(e) => set({ statuses: e.target.checked ? [...form.statuses, s] : form.statuses.filter((x) => x !== s) })}
                data-testid={`retention-status-${s}`}
              />
              {s}
            </label>
          ))}
        </fieldset>
        <label className="field">
          Keep the newest (runs)
          <input className="input" inputMode="numeric" value={form.keepNewest} onChange={(e) => set({ keepNewest: e.target.value })} data-testid="retention-keep" />
        </label>
        <label className="check">
          <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.target.checked })} data-testid="retention-enabled" />
          Applied by the scheduled retention job
        </label>
        {"error" in parsed && (
          <p className="error-box" role="alert">
            {parsed.error}
          </p>
        )}
        <div className="form-row">
          <button type="button" className="btn" disabled={busy || "error" in parsed} onClick={() => check.mutate()} data-testid="retention-dry-run">
            Dry run
          </button>
          <button type="submit" className="btn primary" disabled={busy || "error" in parsed} data-testid="retention-save">
            Save policy
          </button>
          {own && (
            <button type="button" className="btn ghost danger" disabled={busy} onClick={() => remove.mutate()} data-testid="retention-remove">
              Remove policy
            </button>
          )}
        </div>
      </form>
      {failure && <div className="error-box">{failureText(failure, "change this experiment's retention")}</div>}
      {preview && <Preview report={preview} />}
    </section>
  );
}

function Preview({ report }: { report: RetentionReport }) {
  return (
    <div className="retention-preview" data-testid="retention-preview">
      <p>
        <strong>Dry run:</strong> {reportText(report)}
      </p>
      {report.runs.length > 0 && (
        <table className="data-table compact">
          <thead>
            <tr>
              <th>Run</th>
              <th>Why it would go</th>
            </tr>
          </thead>
          <tbody>
            {report.runs.map((r) => (
              <tr key={r.run_id} data-testid="retention-preview-run">
                <td>
                  <Link to={`/runs/${encodeURIComponent(r.run_id)}`} className="mono">
                    {r.run_id.slice(0, 8)}
                  </Link>
                </td>
                <td>{r.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {report.truncated && <p className="muted">and {report.deleted_runs - report.runs.length} more.</p>}
    </div>
  );
}
