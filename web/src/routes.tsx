// The route table. Pages load lazily, so the experiments page never waits for chart code.
// Each page owner adds or edits exactly one line here.
import { lazy, Suspense, type ComponentType, type ReactNode } from "react";
import { Route, Routes } from "react-router";
import { Layout, NotFound } from "./layout/Layout";
import { ExperimentsPage } from "./pages/experiments/ExperimentsPage";
import { RunsPage } from "./pages/runs/RunsPage";

function page<K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) {
  const Component = lazy(async () => ({ default: (await load())[name] as ComponentType }));
  return (
    <Suspense fallback={<div className="page muted">Loading…</div>}>
      <Component />
    </Suspense>
  );
}

export const routes: { path: string; element: ReactNode }[] = [
  { path: "/", element: <ExperimentsPage /> },
  { path: "/home", element: page(() => import("./pages/home/HomePage"), "HomePage") },
  { path: "/experiments/:id", element: <RunsPage /> },
  { path: "/experiments/:id/traces", element: page(() => import("./pages/traces/TracesPage"), "TracesPage") },
  { path: "/experiments/:id/artifacts", element: page(() => import("./pages/artifacts/ArtifactsPage"), "ArtifactsPage") },
  { path: "/artifacts", element: page(() => import("./pages/artifacts/ArtifactsPage"), "ArtifactsPage") },
  { path: "/experiments/:id/traces/:traceId", element: page(() => import("./pages/traces/TracePage"), "TracePage") },
  { path: "/runs/:runId", element: page(() => import("./pages/run/RunPage"), "RunPage") },
  { path: "/metrics", element: page(() => import("./pages/metrics/MetricsPage"), "MetricsPage") },
  { path: "/compare", element: page(() => import("./pages/compare/ComparePage"), "ComparePage") },
  { path: "/models", element: page(() => import("./pages/models/ModelsPage"), "ModelsPage") },
  { path: "/models/:name", element: page(() => import("./pages/models/ModelPage"), "ModelPage") },
  { path: "/models/:name/versions/:version", element: page(() => import("./pages/models/ModelVersionPage"), "ModelVersionPage") },
  { path: "/datasets", element: page(() => import("./pages/datasets/DatasetsPage"), "DatasetsPage") },
  { path: "/datasets/:id", element: page(() => import("./pages/datasets/DatasetPage"), "DatasetPage") },
  { path: "/settings/tokens", element: page(() => import("./pages/auth/TokensPage"), "TokensPage") },
  { path: "/settings/password", element: page(() => import("./pages/auth/PasswordPage"), "PasswordPage") },
  { path: "/admin/users", element: page(() => import("./pages/auth/UsersPage"), "UsersPage") },
  { path: "/admin/roles", element: page(() => import("./pages/auth/RolesPage"), "RolesPage") },
  { path: "/audit", element: page(() => import("./pages/audit/AuditPage"), "AuditPage") },
  { path: "/jobs/:jobId?", element: page(() => import("./pages/jobs/JobsPage"), "JobsPage") },
  { path: "/requests", element: page(() => import("./pages/approvals/RequestsPage"), "RequestsPage") },
  { path: "/webhooks", element: page(() => import("./pages/webhooks/WebhooksPage"), "WebhooksPage") },
  { path: "/alerts", element: page(() => import("./pages/alerts/AlertsPage"), "AlertsPage") },
  { path: "/evaluations", element: page(() => import("./pages/evaluations/EvaluationsPage"), "EvaluationsPage") },
  { path: "/evaluations/new", element: page(() => import("./pages/evaluations/NewEvaluationPage"), "NewEvaluationPage") },
  { path: "/evaluations/jobs/:id", element: page(() => import("./pages/evaluations/EvaluationJobPage"), "EvaluationJobPage") },
  { path: "/evaluations/leaderboard", element: page(() => import("./pages/evaluations/LeaderboardPage"), "LeaderboardPage") },
  { path: "/models/:name/security", element: page(() => import("./pages/evaluations/SecurityPage"), "SecurityPage") },
];

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={page(() => import("./pages/auth/LoginPage"), "LoginPage")} />
      <Route element={<Layout />}>
        {routes.map((r) => (
          <Route key={r.path} path={r.path} element={r.element} />
        ))}
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
