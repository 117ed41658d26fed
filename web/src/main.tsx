import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { settleEarly } from "./api/early";
import { ApiError } from "./api/http";
import { followMlflowLink, watchMlflowLinks } from "./lib/mlflowLinks";
import { AppRoutes } from "./routes";
import "./styles/theme.css";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      refetchOnWindowFocus: false,
      // a 4xx will not get better by asking again
      retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
    },
  },
});

// an MLflow link (`/#/experiments/1/runs/<id>`, printed by the mlflow client) opens its Cairn page
followMlflowLink(window.location, window.history);
watchMlflowLinks(window);

// the experiment page's first answers were asked for by index.html; the first render waits a
// moment for the runs and the experiment, so it draws the rows at once instead of "Loading…"
// first (the run count may follow)
await settleEarly(150, ["runs", "experiment"]);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      {/* URL changes render at once: a checkbox bound to the URL shows its new state in the same event */}
      <BrowserRouter useTransitions={false}>
        <AppRoutes />
      </BrowserRouter>
    </QueryClientProvider>
  </StrictMode>,
);
