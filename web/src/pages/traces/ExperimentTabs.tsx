// The experiment page's tabs: its runs, its traces and its runs' artifacts (each its own route, so a tab is a link).
import { Link } from "react-router";
import "./tabs.css";

export function ExperimentTabs({ id, current }: { id: string; current: "runs" | "traces" | "artifacts" }) {
  const tabs = [
    { key: "runs", label: "Runs", to: `/experiments/${id}` },
    { key: "traces", label: "Traces", to: `/experiments/${id}/traces` },
    { key: "artifacts", label: "Artifacts", to: `/experiments/${id}/artifacts` },
  ] as const;
  return (
    <nav className="exp-tabs" aria-label="Experiment views">
      {tabs.map((t) => (
        <Link key={t.key} to={t.to} className={t.key === current ? "on" : undefined} aria-current={t.key === current ? "page" : undefined} data-testid={`tab-${t.key}`}>
          {t.label}
        </Link>
      ))}
    </nav>
  );
}
