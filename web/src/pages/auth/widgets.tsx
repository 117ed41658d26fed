// Small pieces the access pages share.
import { ApiError } from "../../api/http";

/** What a page about users, tokens or permissions says when access control is off. */
export function AuthOff({ what }: { what: string }) {
  return (
    <div className="page">
      <div className="empty-state" data-testid="auth-off">
        <h2>{what}</h2>
        <p>
          Access control is off on this server, so there are no users, tokens or permissions. Start it with <code>cairn server --auth</code> to have them.
        </p>
      </div>
    </div>
  );
}

/** A page for admins only, seen by someone else (or refused by the server with a 403). */
export function AdminsOnly({ error }: { error?: unknown }) {
  const reason = error instanceof ApiError && error.status === 403 ? error.message : "Only admins manage users and roles.";
  return (
    <div className="page">
      <div className="empty-state" role="alert" data-testid="admins-only">
        <h2>Admins only</h2>
        <p>{reason}</p>
      </div>
    </div>
  );
}
