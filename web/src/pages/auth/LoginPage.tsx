// The sign-in page: shown when the server answers 401; after signing in the browser goes back
// to where it was (?next=).
import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useNavigate, useSearchParams } from "react-router";
import { setCsrfToken } from "../../api/http";
import { Logo } from "../../layout/Layout";
import { login } from "./api";
import { failureText, safeNext } from "./logic";
import { SESSION_KEY } from "./session";
import "../../viz/pages.css";
import "./auth.css";

export function LoginPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const signIn = useMutation({
    // the values travel with the call: a submit right after typing (a password manager, a
    // quick Enter) must not send the previous render's empty fields
    mutationFn: (c: { username: string; password: string }) => login(c.username, c.password),
    onSuccess: async (answer) => {
      setCsrfToken(answer.csrf_token);
      client.clear(); // every answer from before the sign-in is stale
      await client.invalidateQueries({ queryKey: SESSION_KEY });
      navigate(safeNext(params.get("next")), { replace: true });
    },
  });
  return (
    <div className="login-page">
      <form
        className="card login-card"
        data-testid="login-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (username.trim() && password) signIn.mutate({ username: username.trim(), password });
        }}
      >
        <h1 className="login-title">
          <Logo /> Sign in to Cairn
        </h1>
        <label className="field">
          <span>User name</span>
          <input className="input" autoComplete="username" autoFocus value={username} onChange={(e) => setUsername(e.target.value)} data-testid="login-username" />
        </label>
        <label className="field">
          <span>Password</span>
          <input className="input" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} data-testid="login-password" />
        </label>
        {signIn.error && (
          <div className="error-box" role="alert" data-testid="login-error">
            {failureText(signIn.error)}
          </div>
        )}
        <button type="submit" className="btn primary" disabled={signIn.isPending || !username.trim() || !password} data-testid="login-submit">
          {signIn.isPending ? "Signing in…" : "Sign in"}
        </button>
        <p className="muted small-print">Scripts and the mlflow client use an API token instead: create one after signing in.</p>
      </form>
    </div>
  );
}
