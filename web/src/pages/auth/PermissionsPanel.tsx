// The "Permissions" panel of an experiment or a registered model: who has a grant on it, and
// for MANAGE holders (and admins) grant, change and revoke. Hidden when access control is off.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../../api/http";
import { deleteGrant, listGrants, PERMISSIONS, setGrant, type PermissionName, type ResourceKind } from "./api";
import { failureText, manageBlocker } from "./logic";
import { useSession } from "./session";
import "../../viz/pages.css";
import "./auth.css";

export function PermissionsPanel({ kind, id }: { kind: ResourceKind; id: string }) {
  const { authEnabled, isAdmin } = useSession();
  const client = useQueryClient();
  const key = ["grants", kind, id];
  const grants = useQuery({ queryKey: key, queryFn: () => listGrants(kind, id), enabled: authEnabled && !!id, retry: false });
  const [username, setUsername] = useState("");
  const [permission, setPermission] = useState<PermissionName>("READ");
  const act = useMutation({ mutationFn: (fn: () => Promise<unknown>) => fn(), onSuccess: () => client.invalidateQueries({ queryKey: key }) });
  if (!authEnabled) return null;
  const label = kind === "experiment" ? "experiment" : "registered model";
  const refused = grants.error instanceof ApiError && grants.error.status === 403;
  const blocker = refused ? manageBlocker(undefined, false, label) : grants.data ? manageBlocker(grants.data.caller_permission, isAdmin, label) : null;
  const disabled = !!blocker || act.isPending;
  return (
    <section className="card box permissions-panel" aria-labelledby={`perm-${kind}`} data-testid="permissions-panel">
      <h3 id={`perm-${kind}`}>Permissions</h3>
      {blocker && (
        <p className="muted" data-testid="permissions-blocked">
          {blocker}
        </p>
      )}
      {grants.error && !refused && <div className="error-box">{failureText(grants.error)}</div>}
      {grants.data && (
        <>
          <p className="muted">
            Users without a grant here may do what their roles allow, at least <strong>{grants.data.default_permission}</strong> (the server's default).
          </p>
          <table className="data-table compact" data-testid="grants-table">
            <tbody>
              {grants.data.grants.length === 0 && (
                <tr>
                  <td className="muted">No user has a grant on this {label}.</td>
                </tr>
              )}
              {grants.data.grants.map((g) => (
                <tr key={g.username} data-testid="grant-row" data-user={g.username}>
                  <td>{g.username}</td>
                  <td>
                    <select
                      className="input"
                      value={g.permission}
                      disabled={disabled}
                      title={blocker ?? undefined}
                      aria-label={`Permission of ${g.username}`}
                      onChange={(e) => act.mutate(() => setGrant(kind, id, g.username, e.target.value as PermissionName))}
                    >
                      {PERMISSIONS.map((p) => (
                        <option key={p}>{p}</option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <button type="button" className="btn small ghost danger" disabled={disabled} title={blocker ?? undefined} onClick={() => act.mutate(() => deleteGrant(kind, id, g.username))}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <form
        className="form-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (username.trim()) act.mutate(() => setGrant(kind, id, username.trim(), permission).then(() => setUsername("")));
        }}
      >
        <input className="input" placeholder="User name" value={username} disabled={disabled} title={blocker ?? undefined} onChange={(e) => setUsername(e.target.value)} aria-label="User to grant" data-testid="grant-user" />
        <select className="input" value={permission} disabled={disabled} onChange={(e) => setPermission(e.target.value as PermissionName)} aria-label="Permission to grant" data-testid="grant-permission">
          {PERMISSIONS.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
        <button type="submit" className="btn" disabled={disabled || !username.trim()} title={blocker ?? undefined} data-testid="grant-add">
          Grant
        </button>
      </form>
      {act.error && <div className="error-box">{failureText(act.error, `change who may use this ${label}`)}</div>}
    </section>
  );
}
