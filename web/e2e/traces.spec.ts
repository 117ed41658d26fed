// Traces in the UI: traces logged through OTLP/JSON and StartTraceV3 (as a 3.x client sends
// them), the experiment's Traces tab with its search, a trace page, and the run's link.
import { test, expect } from "./fixtures";
import type { Api } from "./api";
import { setTheme, shot, SHOTS } from "./shots";

const hex = (n: number, bytes: number) => n.toString(16).padStart(bytes * 2, "0");
const ns = (ms: number) => (BigInt(ms) * BigInt(1_000_000)).toString();
const str = (v: unknown) => ({ stringValue: JSON.stringify(v) });

interface SpanSpec {
  id: number;
  parent?: number;
  name: string;
  type: string;
  start: number;
  end: number;
  inputs: unknown;
  outputs: unknown;
  error?: boolean;
  events?: string[];
  extra?: Record<string, string>;
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const r = await fetch(`${url}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${path} -> ${r.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

/** One trace: its spans with OTLP/JSON, then its info (previews, run, tokens) with StartTraceV3. */
async function logTrace(api: Api, experimentId: string, n: number, t0: number, spans: SpanSpec[], info: { runId?: string; tokens?: number[]; name: string; request: string; response: string }): Promise<string> {
  const otel = hex(n, 16);
  const doc = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "e2e" } }] },
        scopeSpans: [
          {
            spans: spans.map((s) => ({
              traceId: otel,
              spanId: hex(s.id, 8),
              parentSpanId: s.parent ? hex(s.parent, 8) : undefined,
              name: s.name,
              kind: 1,
              startTimeUnixNano: ns(t0 + s.start),
              endTimeUnixNano: ns(t0 + s.end),
              attributes: [
                { key: "mlflow.spanType", value: str(s.type) },
                { key: "mlflow.spanInputs", value: str(s.inputs) },
                { key: "mlflow.spanOutputs", value: str(s.outputs) },
                ...Object.entries(s.extra ?? {}).map(([key, v]) => ({ key, value: { stringValue: v } })),
              ],
              events: (s.events ?? []).map((name, i) => ({ name, timeUnixNano: ns(t0 + s.start + i + 1), attributes: [{ key: "attempt", value: { intValue: String(i + 1) } }] })),
              status: { code: s.error ? 2 : 1, message: s.error ? "rate limited" : undefined },
            })),
          },
        ],
      },
    ],
  };
  await post(api.url, "/v1/traces", doc, { "x-mlflow-experiment-id": experimentId });
  const traceId = `tr-${otel}`;
  const total = Math.max(...spans.map((s) => s.end));
  const metadata: Record<string, string> = {};
  if (info.runId) metadata["mlflow.sourceRun"] = info.runId;
  if (info.tokens) metadata["mlflow.trace.tokenUsage"] = JSON.stringify({ input_tokens: info.tokens[0], output_tokens: info.tokens[1], total_tokens: info.tokens[0] + info.tokens[1] });
  await post(api.url, "/api/3.0/mlflow/traces", {
    trace: {
      trace_info: {
        trace_id: traceId,
        trace_location: { type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: experimentId } },
        request_time: new Date(t0).toISOString(),
        execution_duration: `${(total / 1000).toFixed(3)}s`,
        state: spans.some((s) => s.error && !s.parent) ? "ERROR" : "OK",
        request_preview: info.request,
        response_preview: info.response,
        trace_metadata: metadata,
        tags: { "mlflow.traceName": info.name, team: info.name === "pipeline" ? "red" : "blue" },
      },
    },
  });
  return traceId;
}

test("traces: the experiment's tab, search, a trace page and the run's link", async ({ page, api }) => {
  test.setTimeout(120_000);
  const experimentId = await api.createExperiment(`traces-${Date.now()}`);
  const runId = await api.createRun(experimentId, "agent-eval");
  const t0 = Date.now() - 60_000;
  const base = Math.floor(Math.random() * 1e12) * 4; // trace ids of their own, whatever ran before
  const rag = await logTrace(
    api,
    experimentId,
    base + 1,
    t0,
    [
      { id: 1, name: "pipeline", type: "CHAIN", start: 0, end: 1200, inputs: { question: "What is a cairn?" }, outputs: "A pile of stones marking a path." },
      { id: 2, parent: 1, name: "retrieve", type: "RETRIEVER", start: 20, end: 300, inputs: { query: "cairn" }, outputs: ["doc-1", "doc-7"], extra: { index: "wiki-v2" } },
      { id: 3, parent: 2, name: "embed", type: "EMBEDDING", start: 30, end: 90, inputs: ["cairn"], outputs: [[0.12, 0.4]] },
      { id: 4, parent: 1, name: "answer", type: "CHAT_MODEL", start: 320, end: 1180, inputs: { messages: [{ role: "user", content: "What is a cairn?" }] }, outputs: { content: "A pile of stones marking a path." }, events: ["retry"], extra: { model: "stub-llm" } },
    ],
    { runId, tokens: [42, 17], name: "pipeline", request: '{"question": "What is a cairn?"}', response: '"A pile of stones marking a path."' },
  );
  await logTrace(
    api,
    experimentId,
    base + 2,
    t0 + 1000,
    [
      { id: 1, name: "classify", type: "CHAIN", start: 0, end: 80, inputs: { text: "hello" }, outputs: null, error: true },
      { id: 2, parent: 1, name: "llm", type: "LLM", start: 5, end: 70, inputs: "hello", outputs: null, error: true },
    ],
    { name: "classify", request: '{"text": "hello"}', response: "" },
  );
  await api.post("/traces/" + rag + "/assessments", {
    assessment: { assessment_name: "helpful", trace_id: rag, source: { source_type: "HUMAN", source_id: "reviewer" }, feedback: { value: true }, rationale: "cites the source" },
  });

  // the experiment page's Traces tab
  await page.goto(`/experiments/${experimentId}`);
  await page.getByRole("navigation", { name: "Experiment views" }).getByRole("link", { name: "Traces" }).click();
  await expect(page).toHaveURL(new RegExp(`/experiments/${experimentId}/traces$`));
  const table = page.getByTestId("traces-table");
  await expect(table.getByTestId("trace-row")).toHaveCount(2);
  // newest first
  await expect(table.getByTestId("trace-row").first()).toContainText("classify");
  const ragRow = table.getByTestId("trace-row").filter({ hasText: "pipeline" });
  await expect(ragRow).toContainText("OK");
  await expect(ragRow).toContainText("1.2s");
  await expect(ragRow).toContainText("59");
  await expect(ragRow).toContainText("What is a cairn?");
  await expect(ragRow.getByRole("link", { name: runId.slice(0, 8) })).toHaveAttribute("href", `/runs/${runId}`);
  await expect(table.getByTestId("trace-row").filter({ hasText: "classify" })).toContainText("ERROR");

  // search in the trace search language: by span name, then by status; Escape clears it
  const box = page.getByTestId("trace-filter");
  await box.fill("span.name = 'retrieve'");
  await box.press("Enter");
  await expect(page).toHaveURL(/filter=span\.name/);
  await expect(table.getByTestId("trace-row")).toHaveCount(1);
  await expect(table.getByTestId("trace-row")).toContainText("pipeline");
  await box.fill("trace.status = 'ERROR'");
  await box.press("Enter");
  await expect(table.getByTestId("trace-row")).toHaveCount(1);
  await expect(table.getByTestId("trace-row")).toContainText("classify");
  await box.fill("tags.team = 'green'");
  await box.press("Enter");
  await expect(page.getByText("No trace matches this filter.")).toBeVisible();
  await box.press("Escape");
  await expect(table.getByTestId("trace-row")).toHaveCount(2);

  if (SHOTS) {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.reload();
    await expect(table.getByTestId("trace-row")).toHaveCount(2);
    await setTheme(page, "light");
    await shot(page, "traces-list");
  }

  // the trace page: span tree with its timeline, the selected span's details, assessments
  await ragRow.getByRole("link", { name: "pipeline" }).click();
  await expect(page).toHaveURL(new RegExp(`/experiments/${experimentId}/traces/${rag}$`));
  await expect(page.getByRole("heading", { level: 1 })).toContainText("pipeline");
  await expect(page.getByTestId("trace-tokens")).toContainText("59 (input 42, output 17)");
  const tree = page.getByRole("tree", { name: "Span tree" });
  const rows = tree.getByRole("treeitem");
  await expect(rows).toHaveCount(4);
  expect(await rows.evaluateAll((els) => els.map((e) => `${e.getAttribute("aria-level")}:${e.querySelector(".span-name")!.firstChild!.textContent}`))).toEqual([
    "1:pipeline",
    "2:retrieve",
    "3:embed",
    "2:answer",
  ]);
  // the root's bar spans the timeline; "answer" starts about a quarter in
  const answerBar = rows.nth(3).locator(".span-bar");
  const left = await answerBar.evaluate((el) => parseFloat((el as HTMLElement).style.left));
  expect(left).toBeGreaterThan(25);
  expect(left).toBeLessThan(28);
  const detail = page.getByTestId("span-detail");
  await expect(detail.getByRole("heading", { level: 2 })).toContainText("pipeline");
  await expect(page.getByTestId("span-inputs")).toContainText('"question": "What is a cairn?"');
  // keyboard: the selected row has focus order; arrows move the selection
  await rows.nth(0).focus();
  await page.keyboard.press("ArrowDown");
  await expect(rows.nth(1)).toBeFocused();
  await expect(detail.getByRole("heading", { level: 2 })).toContainText("retrieve");
  await expect(page.getByTestId("span-attributes")).toContainText("wiki-v2");
  await page.keyboard.press("End");
  await expect(rows.nth(3)).toHaveAttribute("aria-selected", "true");
  await expect(detail.getByRole("heading", { level: 2 })).toContainText("answer");
  await expect(page.getByTestId("span-outputs")).toContainText("A pile of stones marking a path.");
  await expect(page.getByTestId("span-events")).toContainText("retry");
  await expect(page.getByTestId("span-attributes")).toContainText("stub-llm");
  const assessments = page.getByTestId("assessments");
  await expect(assessments).toContainText("helpful");
  await expect(assessments).toContainText("true");
  await expect(assessments).toContainText("cites the source");
  // loaded directly (not after the runs page), the page has its styles too
  await page.reload();
  await expect(rows).toHaveCount(4);
  await rows.nth(1).click();
  await expect(detail.getByRole("heading", { level: 2 })).toContainText("retrieve");
  expect(await page.getByTestId("assessments").evaluate((el) => getComputedStyle(el).borderCollapse)).toBe("collapse");
  if (SHOTS) {
    await setTheme(page, "light");
    await shot(page, "traces");
  }

  // the trace links to its run; the run links back to its traces
  await page.getByTestId("trace-run-link").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${runId}$`));
  const runTraces = page.getByTestId("run-traces-link");
  await expect(runTraces).toHaveText("1 trace");
  await runTraces.click();
  await expect(page).toHaveURL(/\/traces\?filter=trace\.run_id/);
  await expect(page.getByTestId("trace-filter")).toHaveValue(`trace.run_id = '${runId}'`);
  await expect(page.getByTestId("traces-table").getByTestId("trace-row")).toHaveCount(1);

  // MLflow's own link to a trace lands on its page
  await page.goto(`/#/experiments/${experimentId}/traces?selectedTraceId=${rag}`);
  await expect(page).toHaveURL(new RegExp(`/experiments/${experimentId}/traces/${rag}$`));
  await expect(page.getByRole("tree", { name: "Span tree" }).getByRole("treeitem")).toHaveCount(4);
});

test.describe("errors", () => {
  test.use({ allowHttpErrors: [400, 404] });
  test("an unknown trace id is not found; a refused filter shows its message", async ({ page, api }) => {
    const experimentId = await api.createExperiment(`traces-missing-${Date.now()}`);
    await page.goto(`/experiments/${experimentId}/traces/tr-${"f".repeat(32)}`);
    await expect(page.getByRole("heading", { name: "Trace not found" })).toBeVisible();
    await page.getByRole("link", { name: "Back to the traces" }).click();
    await expect(page.getByText("No traces in this experiment yet.", { exact: false })).toBeVisible();
    // a filter the server refuses: its message, in the page
    await page.getByTestId("trace-filter").fill("span.colour = 'red'");
    await page.getByTestId("trace-filter").press("Enter");
    await expect(page.getByRole("alert")).toContainText("span.colour");
  });
});
