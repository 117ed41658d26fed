// Admins: every user; create one, make admin, deactivate, reset a password, delete.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { formatTimestamp } from "../../lib/format";
import { createUser, deleteUser, listUsers, updateUser, type User } from "./api";
import { failureText, passwordProblem } from "./logic";
import { useSession } from "./session";
import { AdminsOnly, AuthOff } from "./widgets";
import "../../viz/pages.css";
import "./auth.css";

export function UsersPage() {
  const { session, authEnabled, isAdmin } = useSession();
  const users = useQuery({ queryKey: ["users"], queryFn: listUsers, enabled: isAdmin && authEnabled });
  if (session && !authEnabled) return <AuthOff what="Users" />;
  if (!session) return <div className="page muted">Loading…</div>;
  if (!isAdmin || (users.error && (users.error as { status?: number }).status === 403)) return <AdminsOnly error={users.error} />;
  return (
    <div className="page auth-page" data-testid="users-page">
      <div className="page-head">
        <h1>Users</h1>
      </div>
      <NewUser />
      {users.error && <div className="error-box">{failureText(users.error, "list users")}</div>}
      {users.isPending ? (
        <p className="muted">Loading…</p>
      ) : (
        <table className="data-table" data-testid="users-table">
          <thead>
            <tr>
              <th>User</th>
              <th>Role</th>
              <th>State</th>
              <th>Created</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {(users.data ?? []).map((u) => (
              <UserRow key={u.id} user={u} self={u.username === session.user.username} />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function NewUser() {
  const client = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [admin, setAdmin] = useState(false);
  const create = useMutation({
    mutationFn: () => createUser({ username: username.trim(), password, is_admin: admin }),
    onSuccess: () => {
      setUsername("");
      setPassword("");
      setAdmin(false);
      return client.invalidateQueries({ queryKey: ["users"] });
    },
  });
  const weak = password ? passwordProblem(password, password) : null;
  return (
    <>
      <form
        className="card box form-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (username.trim() && !weak && password) create.mutate();
        }}
      >
        <input className="input" placeholder="User name" value={username} onChange={(e) => setUsername(e.target.value)} aria-label="New user name" data-testid="user-name" />
        <input className="input" type="password" autoComplete="new-password" placeholder="Password (12+ characters)" value={password} onChange={(e) => setPassword(e.target.value)} aria-label="New user password" data-testid="user-password" />
        <label>
          <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} data-testid="user-admin" /> admin
        </label>
        <button type="submit" className="btn primary" disabled={!username.trim() || !password || !!weak || create.isPending} title={weak ?? undefined} data-testid="user-create">
          Create user
        </button>
      </form>
      {create.error && <div className="error-box">{failureText(create.error, "create users")}</div>}
    </>
  );
}

function UserRow({ user, self }: { user: User; self: boolean }) {
  const client = useQueryClient();
  const [resetting, setResetting] = useState(false);
  const [password, setPassword] = useState("");
  const [confirmDelete, setConfirmDelete] = useState(false);
  const refresh = () => client.invalidateQueries({ queryKey: ["users"] });
  const update = useMutation({
    mutationFn: (body: { is_admin?: boolean; active?: boolean; password?: string }) => updateUser(user.username, body),
    onSuccess: () => {
      setResetting(false);
      setPassword("");
      return refresh();
    },
  });
  const remove = useMutation({ mutationFn: () => deleteUser(user.username), onSuccess: refresh });
  const weak = password ? passwordProblem(password, password) : "Type a new password";
  const selfReason = self ? "You cannot do this to yourself here" : undefined;
  return (
    <tr data-testid="user-row" data-user={user.username}>
      <td>
        <strong>{user.username}</strong>
        {self && <span className="muted"> (you)</span>}
      </td>
      <td>{user.is_admin ? <span className="badge">admin</span> : "user"}</td>
      <td>{user.active ? "active" : <span className="muted">deactivated</span>}</td>
      <td>{formatTimestamp(user.created_at)}</td>
      <td>
        <div className="form-row actions">
          <button type="button" className="btn small" disabled={self || update.isPending} title={selfReason} onClick={() => update.mutate({ is_admin: !user.is_admin })} data-testid="user-toggle-admin">
            {user.is_admin ? "Remove admin" : "Make admin"}
          </button>
          <button type="button" className="btn small" disabled={self || update.isPending} title={selfReason} onClick={() => update.mutate({ active: !user.active })} data-testid="user-toggle-active">
            {user.active ? "Deactivate" : "Activate"}
          </button>
          {resetting ? (
            <>
              <input className="input" type="password" autoComplete="new-password" placeholder="New password" value={password} onChange={(e) => setPassword(e.target.value)} aria-label={`New password for ${user.username}`} />
              <button type="button" className="btn small primary" disabled={!!weak || update.isPending} title={weak ?? undefined} onClick={() => update.mutate({ password })}>
                Set
              </button>
              <button type="button" className="btn small ghost" onClick={() => setResetting(false)}>
                Cancel
              </button>
            </>
          ) : (
            <button type="button" className="btn small" onClick={() => setResetting(true)} data-testid="user-reset-password">
              Reset password
            </button>
          )}
          {confirmDelete ? (
            <>
              <button type="button" className="btn small danger" disabled={remove.isPending} onClick={() => remove.mutate()}>
                Confirm delete
              </button>
              <button type="button" className="btn small ghost" onClick={() => setConfirmDelete(false)}>
                Keep
              </button>
            </>
          ) : (
            <button type="button" className="btn small ghost danger" disabled={self} title={selfReason} onClick={() => setConfirmDelete(true)} data-testid="user-delete">
              Delete
            </button>
          )}
        </div>
        {(update.error || remove.error) && <div className="error-box">{failureText(update.error ?? remove.error, "change this user")}</div>}
      </td>
    </tr>
  );
}
