// The caller changes their own password (their other sessions end; this one is renewed).
import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { setCsrfToken } from "../../api/http";
import { changePassword } from "./api";
import { failureText, passwordProblem } from "./logic";
import { SESSION_KEY, useSession } from "./session";
import { AuthOff } from "./widgets";
import "../../viz/pages.css";
import "./auth.css";

export function PasswordPage() {
  const { session, authEnabled } = useSession();
  const client = useQueryClient();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const problem = next || again ? passwordProblem(next, again) : null;
  const change = useMutation({
    mutationFn: () => changePassword(current, next),
    onSuccess: (answer) => {
      if (answer) setCsrfToken(answer.csrf_token);
      setCurrent("");
      setNext("");
      setAgain("");
      return client.invalidateQueries({ queryKey: SESSION_KEY });
    },
  });
  if (session && !authEnabled) return <AuthOff what="Change password" />;
  return (
    <div className="page auth-page" data-testid="password-page">
      <div className="page-head">
        <h1>Change password</h1>
      </div>
      <form
        className="card box stack"
        onSubmit={(e) => {
          e.preventDefault();
          if (current && !passwordProblem(next, again)) change.mutate();
        }}
      >
        <label className="field">
          <span>Current password</span>
          <input className="input" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} data-testid="password-current" />
        </label>
        <label className="field">
          <span>New password (at least 12 characters)</span>
          <input className="input" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} data-testid="password-new" />
        </label>
        <label className="field">
          <span>New password again</span>
          <input className="input" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} data-testid="password-again" />
        </label>
        {problem && <p className="muted">{problem}</p>}
        {change.error && <div className="error-box">{failureText(change.error, "change the password")}</div>}
        {change.isSuccess && (
          <p role="status" data-testid="password-changed">
            Password changed. Your other sessions have ended.
          </p>
        )}
        <button type="submit" className="btn primary" disabled={!current || !!passwordProblem(next, again) || change.isPending} data-testid="password-submit">
          Change password
        </button>
      </form>
    </div>
  );
}
