// The signed-in session, shared by the header's user menu, the admin pages and the permissions
// panels; and the watcher that sends the browser to the login page when the server answers 401.
import { useEffect } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useLocation, useNavigate } from "react-router";
import { authEvents, setCsrfToken, UNAUTHENTICATED } from "../../api/http";
import { getSession, type Session } from "./api";
import { loginPath } from "./logic";

export const SESSION_KEY = ["auth-session"] as const;

/** Who is signed in (undefined while loading or when signed out). Keeps the shared fetch
 * helper's CSRF token in step with the session. */
export function useSession(): { session: Session | undefined; isPending: boolean; authEnabled: boolean; isAdmin: boolean } {
  const query = useQuery({ queryKey: SESSION_KEY, queryFn: getSession, staleTime: 60_000, retry: false });
  const session = query.data;
  useEffect(() => {
    if (session) setCsrfToken(session.csrf_token);
  }, [session]);
  if (session) setCsrfToken(session.csrf_token); // before any child's first write
  return {
    session,
    isPending: query.isPending,
    authEnabled: session?.auth_enabled ?? false,
    isAdmin: session?.user.is_admin ?? false,
  };
}

/** Sends the browser to /login?next=<where it was> on any 401 answer. */
export function AuthWatcher() {
  const navigate = useNavigate();
  const location = useLocation();
  const client = useQueryClient();
  useEffect(() => {
    const onUnauthenticated = () => {
      if (location.pathname.startsWith("/login")) return;
      setCsrfToken(null);
      client.removeQueries({ queryKey: SESSION_KEY });
      navigate(loginPath(location.pathname, location.search), { replace: true });
    };
    authEvents.addEventListener(UNAUTHENTICATED, onUnauthenticated);
    return () => authEvents.removeEventListener(UNAUTHENTICATED, onUnauthenticated);
  }, [navigate, location, client]);
  return null;
}
