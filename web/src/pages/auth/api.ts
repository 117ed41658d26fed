// Cairn's own access API (/api/v1): the session, the caller's password and API tokens, and
// for admins the users and roles; the permissions panel of an experiment or registered model.
import { apiDelete, apiGet, apiPatch, apiPost, apiPut } from "../../api/http";
import type { V1 } from "../../api/types";

export type Session = V1<"SessionOut">;
export type LoginAnswer = V1<"LoginOut">;
export type User = V1<"UserOut">;
export type Token = V1<"TokenOut">;
export type TokenCreated = V1<"TokenCreated">;
export type Role = V1<"RoleOut">;
export type Grant = V1<"GrantOut">;
export type GrantList = V1<"GrantList">;
export type PermissionName = Grant["permission"];
export type ResourceKind = "experiment" | "registered_model";

export const PERMISSIONS: PermissionName[] = ["NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"];

const enc = encodeURIComponent;

export const getSession = () => apiGet<Session>("/api/v1/auth/session");
export const login = (username: string, password: string) => apiPost<LoginAnswer>("/api/v1/auth/login", { username, password });
export const logout = () => apiPost<unknown>("/api/v1/auth/logout");
export const changePassword = (current_password: string, new_password: string) =>
  apiPost<LoginAnswer | null>("/api/v1/auth/password", { current_password, new_password });

export const listTokens = () => apiGet<V1<"TokenList">>("/api/v1/tokens").then((r) => r.tokens);
export const createToken = (body: { name: string; expires_in_days?: number; read_only: boolean }) => apiPost<TokenCreated>("/api/v1/tokens", body);
export const revokeToken = (id: number) => apiDelete<Token>(`/api/v1/tokens/${id}`);

export const listUsers = () => apiGet<V1<"UserList">>("/api/v1/users").then((r) => r.users);
export const createUser = (body: { username: string; password: string; is_admin: boolean }) => apiPost<User>("/api/v1/users", body);
export const updateUser = (username: string, body: { is_admin?: boolean; active?: boolean; password?: string }) =>
  apiPatch<User>(`/api/v1/users/${enc(username)}`, body);
export const deleteUser = (username: string) => apiDelete<unknown>(`/api/v1/users/${enc(username)}`);

export const listRoles = () => apiGet<V1<"RoleList">>("/api/v1/roles").then((r) => r.roles);
export const createRole = (name: string, description: string) => apiPost<Role>("/api/v1/roles", { name, description });
export const deleteRole = (id: number) => apiDelete<unknown>(`/api/v1/roles/${id}`);
export const addRoleGrant = (id: number, body: { resource_type: ResourceKind; pattern: string; permission: PermissionName }) =>
  apiPost<Role>(`/api/v1/roles/${id}/permissions`, body);
export const removeRoleGrant = (id: number, permissionId: number) => apiDelete<Role>(`/api/v1/roles/${id}/permissions/${permissionId}`);
export const addMember = (id: number, username: string) => apiPut<Role>(`/api/v1/roles/${id}/members/${enc(username)}`);
export const removeMember = (id: number, username: string) => apiDelete<Role>(`/api/v1/roles/${id}/members/${enc(username)}`);

/** The /api/v1 path of a resource's permissions. */
export function permissionsPath(kind: ResourceKind, id: string): string {
  return kind === "experiment" ? `/api/v1/experiments/${enc(id)}/permissions` : `/api/v1/models/${enc(id)}/permissions`;
}
export const listGrants = (kind: ResourceKind, id: string) => apiGet<GrantList>(permissionsPath(kind, id));
export const setGrant = (kind: ResourceKind, id: string, username: string, permission: PermissionName) =>
  apiPut<Grant>(`${permissionsPath(kind, id)}/${enc(username)}`, { permission });
export const deleteGrant = (kind: ResourceKind, id: string, username: string) => apiDelete<unknown>(`${permissionsPath(kind, id)}/${enc(username)}`);
