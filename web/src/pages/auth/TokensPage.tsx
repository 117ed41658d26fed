// The caller's API tokens: create one (name, expiry, read-only), see its secret once, list and
// revoke them.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { formatTimestamp } from "../../lib/format";
import { createToken, listTokens, revokeToken, type TokenCreated } from "./api";
import { EXPIRY_CHOICES, failureText, tokenState } from "./logic";
import { useSession } from "./session";
import { AuthOff } from "./widgets";
import "../../viz/pages.css";
import "./auth.css";

export function TokensPage() {
  const { session, authEnabled } = useSession();
  const client = useQueryClient();
  const tokens = useQuery({ queryKey: ["tokens"], queryFn: listTokens, enabled: authEnabled });
  const [name, setName] = useState("");
  const [days, setDays] = useState<number | null>(30);
  const [readOnly, setReadOnly] = useState(false);
  const [created, setCreated] = useState<TokenCreated | null>(null);
  const [copied, setCopied] = useState(false);
  const refresh = () => client.invalidateQueries({ queryKey: ["tokens"] });
  const create = useMutation({
    mutationFn: () => createToken({ name: name.trim(), read_only: readOnly, ...(days ? { expires_in_days: days } : {}) }),
    onSuccess: (answer) => {
      setCreated(answer);
      setCopied(false);
      setName("");
      return refresh();
    },
  });
  const revoke = useMutation({ mutationFn: revokeToken, onSuccess: refresh });
  if (session && !authEnabled) return <AuthOff what="API tokens" />;
  const now = Date.now();
  return (
    <div className="page auth-page" data-testid="tokens-page">
      <div className="page-head">
        <h1>API tokens</h1>
      </div>
      <p className="muted">
        A token signs in scripts and the mlflow client as you: set <code>MLFLOW_TRACKING_TOKEN</code>, or use it as the password with <code>MLFLOW_TRACKING_USERNAME</code>. A read-only token can read what you
        can read and change nothing.
      </p>
      <form
        className="card box form-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) create.mutate();
        }}
      >
        <input className="input" placeholder="Token name (e.g. ci-pipeline)" value={name} onChange={(e) => setName(e.target.value)} aria-label="Token name" data-testid="token-name" />
        <label className="muted">
          expires{" "}
          <select className="input" value={days ?? ""} onChange={(e) => setDays(e.target.value ? Number(e.target.value) : null)} aria-label="Expires in" data-testid="token-expiry">
            {EXPIRY_CHOICES.map((c) => (
              <option key={c.label} value={c.days ?? ""}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={readOnly} onChange={(e) => setReadOnly(e.target.checked)} data-testid="token-read-only" /> read-only
        </label>
        <button type="submit" className="btn primary" disabled={!name.trim() || create.isPending} data-testid="token-create">
          Create token
        </button>
      </form>
      {create.error && <div className="error-box">{failureText(create.error, "create tokens")}</div>}
      {created && (
        <div className="card box secret-box" role="status" data-testid="token-secret-box">
          <strong>Copy your new token “{created.token.name}” now. It will not be shown again.</strong>
          <div className="form-row">
            <code className="secret" data-testid="token-secret">
              {created.secret}
            </code>
            <button
              type="button"
              className="btn"
              onClick={() => {
                void navigator.clipboard?.writeText(created.secret).then(() => setCopied(true));
              }}
              data-testid="token-copy"
            >
              {copied ? "Copied" : "Copy"}
            </button>
            <button type="button" className="btn ghost" onClick={() => setCreated(null)} data-testid="token-secret-done">
              Done
            </button>
          </div>
        </div>
      )}
      <section className="section">
        {tokens.error && <div className="error-box">{failureText(tokens.error, "list tokens")}</div>}
        {tokens.isPending && authEnabled ? (
          <p className="muted">Loading…</p>
        ) : (tokens.data ?? []).length === 0 ? (
          <div className="empty-state">
            <p>No tokens yet.</p>
          </div>
        ) : (
          <table className="data-table" data-testid="tokens-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Prefix</th>
                <th>Scope</th>
                <th>Created</th>
                <th>Last used</th>
                <th>Expires</th>
                <th>State</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {(tokens.data ?? []).map((t) => {
                const state = tokenState(t, now);
                return (
                  <tr key={t.id} data-testid="token-row" data-state={state}>
                    <td>{t.name}</td>
                    <td>
                      <code>{t.prefix}…</code>
                    </td>
                    <td>{t.read_only ? "read-only" : "full"}</td>
                    <td>{formatTimestamp(t.created_at)}</td>
                    <td>{t.last_used_at ? formatTimestamp(t.last_used_at) : <span className="muted">never</span>}</td>
                    <td>{t.expires_at ? formatTimestamp(t.expires_at) : <span className="muted">never</span>}</td>
                    <td>{state}</td>
                    <td>
                      {state === "active" && (
                        <button type="button" className="btn small danger" disabled={revoke.isPending} onClick={() => revoke.mutate(t.id)} data-testid="token-revoke">
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        {revoke.error && <div className="error-box">{failureText(revoke.error, "revoke this token")}</div>}
      </section>
    </div>
  );
}
