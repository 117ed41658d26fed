import { useEffect, useState } from "react";
import { NavLink, Outlet, Link, useLocation } from "react-router";
import { AlertBell } from "../pages/alerts/AlertBell";
import { AuthWatcher, useSession } from "../pages/auth/session";
import { UserMenu } from "../pages/auth/UserMenu";
import { applyTheme, currentTheme, preferredTheme, storedTheme, type Theme } from "./theme";
import "../styles/layout.css";

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(() => storedTheme() ?? currentTheme());
  useEffect(() => {
    if (!storedTheme()) applyTheme(preferredTheme(), false);
  }, []);
  const next: Theme = theme === "dark" ? "light" : "dark";
  return (
    <button
      type="button"
      className="btn ghost"
      aria-label={`Switch to ${next} theme`}
      title={`Switch to ${next} theme`}
      data-testid="theme-toggle"
      onClick={() => {
        applyTheme(next, true);
        setTheme(next);
      }}
    >
      {theme === "dark" ? "☀ Light" : "☾ Dark"}
    </button>
  );
}

export function Logo() {
  return (
    <svg width="22" height="22" viewBox="0 0 32 32" aria-hidden="true">
      <g fill="var(--accent)">
        <ellipse cx="16" cy="26" rx="11" ry="4" />
        <ellipse cx="16" cy="18" rx="8" ry="3.5" />
        <ellipse cx="16" cy="11" rx="5.5" ry="3" />
        <ellipse cx="16" cy="5" rx="3" ry="2" />
      </g>
    </svg>
  );
}

export function Layout() {
  const location = useLocation();
  const { isAdmin } = useSession(); // with access control off, the local user is an admin
  const experimentsActive = location.pathname === "/" || location.pathname.startsWith("/experiments") || location.pathname.startsWith("/runs");
  return (
    <div className="app">
      <a
        href="#main"
        className="skip-link"
        data-testid="skip-link"
        onClick={(e) => {
          // focus the page itself, not the URL's hash (MLflow's #/… links are routed)
          e.preventDefault();
          const main = document.getElementById("main");
          main?.focus();
          // the page's first focusable element is then one Tab away
        }}
      >
        Skip to main content
      </a>
      <header className="topbar">
        <Link to="/home" className="brand" aria-label="Cairn home">
          <Logo />
          Cairn
        </Link>
        <nav className="topnav" aria-label="Main">
          <NavLink to="/home" data-testid="nav-home">
            Home
          </NavLink>
          <NavLink to="/" className={() => (experimentsActive ? "active" : "")} end>
            Experiments
          </NavLink>
          <NavLink to="/models">Models</NavLink>
          <NavLink to="/datasets">Datasets</NavLink>
          <NavLink to="/artifacts" data-testid="nav-artifacts">
            Artifacts
          </NavLink>
          <NavLink to="/evaluations" data-testid="nav-evaluations">
            Evaluations
          </NavLink>
          <NavLink to="/requests" data-testid="nav-requests">
            Requests
          </NavLink>
          <NavLink to="/webhooks" data-testid="nav-webhooks">
            Webhooks
          </NavLink>
          {isAdmin && (
            <NavLink to="/audit" data-testid="nav-audit">
              Audit
            </NavLink>
          )}
          {isAdmin && (
            <NavLink to="/jobs" data-testid="nav-jobs">
              Jobs
            </NavLink>
          )}
        </nav>
        <AlertBell />
        <UserMenu />
        <ThemeToggle />
      </header>
      <AuthWatcher />
      <main className="main" id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}

export function NotFound() {
  return (
    <div className="page">
      <div className="empty-state">
        <h2>Page not found</h2>
        <p>
          Nothing lives at <code>{useLocation().pathname}</code>. <Link to="/">Back to the experiments</Link>
        </p>
      </div>
    </div>
  );
}

export function NotBuilt({ what }: { what: string }) {
  return (
    <div className="page">
      <div className="empty-state">
        <h2>{what}</h2>
        <p>This page is not built yet.</p>
      </div>
    </div>
  );
}
