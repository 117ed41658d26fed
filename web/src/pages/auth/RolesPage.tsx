// Admins: roles, the permissions each gives on a resource pattern, and their members.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { addMember, addRoleGrant, createRole, deleteRole, listRoles, listUsers, PERMISSIONS, removeMember, removeRoleGrant, type PermissionName, type ResourceKind, type Role } from "./api";
import { failureText } from "./logic";
import { useSession } from "./session";
import { AdminsOnly, AuthOff } from "./widgets";
import "../../viz/pages.css";
import "./auth.css";

export function RolesPage() {
  const { session, authEnabled, isAdmin } = useSession();
  const client = useQueryClient();
  const on = isAdmin && authEnabled;
  const roles = useQuery({ queryKey: ["roles"], queryFn: listRoles, enabled: on });
  const users = useQuery({ queryKey: ["users"], queryFn: listUsers, enabled: on });
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: () => createRole(name.trim(), description.trim()),
    onSuccess: () => {
      setName("");
      setDescription("");
      return client.invalidateQueries({ queryKey: ["roles"] });
    },
  });
  if (session && !authEnabled) return <AuthOff what="Roles" />;
  if (!session) return <div className="page muted">Loading…</div>;
  if (!isAdmin) return <AdminsOnly error={roles.error} />;
  return (
    <div className="page auth-page" data-testid="roles-page">
      <div className="page-head">
        <h1>Roles</h1>
      </div>
      <p className="muted">
        A role gives its members a permission on every experiment or registered model a pattern matches: <code>*</code> for all, or an experiment id or name, or a model name. A user's own grant on a
        resource wins over their roles.
      </p>
      <form
        className="card box form-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) create.mutate();
        }}
      >
        <input className="input" placeholder="Role name (e.g. vision-team)" value={name} onChange={(e) => setName(e.target.value)} aria-label="Role name" data-testid="role-name" />
        <input className="input" placeholder="Description" value={description} onChange={(e) => setDescription(e.target.value)} aria-label="Role description" />
        <button type="submit" className="btn primary" disabled={!name.trim() || create.isPending} data-testid="role-create">
          Create role
        </button>
      </form>
      {create.error && <div className="error-box">{failureText(create.error, "create roles")}</div>}
      {roles.error && <div className="error-box">{failureText(roles.error, "list roles")}</div>}
      {roles.isPending ? (
        <p className="muted">Loading…</p>
      ) : (roles.data ?? []).length === 0 ? (
        <div className="empty-state">
          <p>No roles yet.</p>
        </div>
      ) : (
        (roles.data ?? []).map((r) => <RoleCard key={r.id} role={r} usernames={(users.data ?? []).map((u) => u.username)} />)
      )}
    </div>
  );
}

function RoleCard({ role, usernames }: { role: Role; usernames: string[] }) {
  const client = useQueryClient();
  const refresh = () => client.invalidateQueries({ queryKey: ["roles"] });
  const [kind, setKind] = useState<ResourceKind>("experiment");
  const [pattern, setPattern] = useState("*");
  const [permission, setPermission] = useState<PermissionName>("READ");
  const [member, setMember] = useState("");
  const act = useMutation({ mutationFn: (fn: () => Promise<unknown>) => fn(), onSuccess: refresh });
  const candidates = usernames.filter((u) => !role.members.includes(u));
  return (
    <section className="card box section" data-testid="role-card" data-role={role.name}>
      <div className="page-head">
        <h2>{role.name}</h2>
        <span className="muted">{role.description}</span>
        <button type="button" className="btn small ghost danger" onClick={() => act.mutate(() => deleteRole(role.id))}>
          Delete role
        </button>
      </div>
      <h3>Grants</h3>
      <ul className="plain-list">
        {role.permissions.length === 0 && <li className="muted">No grants yet.</li>}
        {role.permissions.map((p) => (
          <li key={p.id} data-testid="role-grant">
            <strong>{p.permission}</strong> on {p.resource_type === "experiment" ? "experiments" : "registered models"} matching <code>{p.pattern}</code>{" "}
            <button type="button" className="btn small ghost" aria-label={`Remove grant ${p.permission} on ${p.pattern}`} onClick={() => act.mutate(() => removeRoleGrant(role.id, p.id))}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form
        className="form-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (pattern.trim()) act.mutate(() => addRoleGrant(role.id, { resource_type: kind, pattern: pattern.trim(), permission }));
        }}
      >
        <select className="input" value={permission} onChange={(e) => setPermission(e.target.value as PermissionName)} aria-label="Permission" data-testid="role-grant-permission">
          {PERMISSIONS.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
        on
        <select className="input" value={kind} onChange={(e) => setKind(e.target.value as ResourceKind)} aria-label="Resource type">
          <option value="experiment">experiments</option>
          <option value="registered_model">registered models</option>
        </select>
        matching
        <input className="input" value={pattern} onChange={(e) => setPattern(e.target.value)} aria-label="Pattern" data-testid="role-grant-pattern" />
        <button type="submit" className="btn" data-testid="role-grant-add">
          Add grant
        </button>
      </form>
      <h3>Members</h3>
      <div className="chips">
        {role.members.length === 0 && <span className="muted">No members yet.</span>}
        {role.members.map((m) => (
          <span key={m} className="chip" data-testid="role-member">
            {m}{" "}
            <button type="button" className="btn small ghost" aria-label={`Remove ${m} from ${role.name}`} onClick={() => act.mutate(() => removeMember(role.id, m))}>
              ×
            </button>
          </span>
        ))}
      </div>
      <form
        className="form-row"
        onSubmit={(e) => {
          e.preventDefault();
          if (member) act.mutate(() => addMember(role.id, member).then(() => setMember("")));
        }}
      >
        <select className="input" value={member} onChange={(e) => setMember(e.target.value)} aria-label="User to add" data-testid="role-member-pick">
          <option value="">Add a user…</option>
          {candidates.map((u) => (
            <option key={u}>{u}</option>
          ))}
        </select>
        <button type="submit" className="btn" disabled={!member} data-testid="role-member-add">
          Add member
        </button>
      </form>
      {act.error && <div className="error-box">{failureText(act.error, "change this role")}</div>}
    </section>
  );
}
