// The header's user menu: who is signed in, their API tokens and password, the admin pages for
// admins, and signing out. Not shown when access control is off.
import { useEffect, useRef, useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "react-router";
import { setCsrfToken } from "../../api/http";
import { logout } from "./api";
import { useSession } from "./session";
import "../../viz/pages.css";
import "./auth.css";

export function UserMenu() {
  const { session, authEnabled, isAdmin } = useSession();
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const navigate = useNavigate();
  const client = useQueryClient();
  const signOut = useMutation({
    mutationFn: logout,
    onSettled: () => {
      setCsrfToken(null);
      client.clear();
      navigate("/login", { replace: true });
    },
  });
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [open]);
  if (!session || !authEnabled) return null;
  const item = (to: string, label: string, testId: string) => (
    <Link role="menuitem" to={to} onClick={() => setOpen(false)} data-testid={testId}>
      {label}
    </Link>
  );
  return (
    <div className="user-menu" ref={box}>
      <button type="button" className="btn ghost" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="user-menu">
        {session.user.username}
        {isAdmin && <span className="badge">admin</span>} ▾
      </button>
      {open && (
        <div className="menu" role="menu">
          {item("/settings/tokens", "API tokens", "menu-tokens")}
          {item("/settings/password", "Change password", "menu-password")}
          {isAdmin && item("/admin/users", "Users", "menu-users")}
          {isAdmin && item("/admin/roles", "Roles", "menu-roles")}
          <button type="button" role="menuitem" onClick={() => signOut.mutate()} data-testid="menu-sign-out">
            Sign out
          </button>
        </div>
      )}
    </div>
  );
}
