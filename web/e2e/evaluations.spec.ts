// The Evaluations pages against the shared server (access control off): a job submitted through
// the form (a mistake named first, by the form and by the server's 400) with an `external`
// benchmark whose runner reports through the API with the token the page showed once; the job
// page follows it live to completed; the list, its filters, the leaderboard with champion
// deltas, the links from the version and run pages, cancel; and a model's security view after
// two red-team runs logged through POST /api/v1/red-team/log.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test, expect } from "./fixtures";
import { REPO } from "./server";
import { setTheme, shot } from "./shots";

test.use({ allowHttpErrors: [400] });

const EV = "/api/v1/evaluations";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(base: string, method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} -> ${r.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

/** An external job for `model` in eval-hub's shape, completed at once by its runner: `f1` on
 * custom_qa, and `rate` on toxicity (lower is better). */
async function externalJob(base: string, model: string, f1: number, rate: number, experiment = "e2e-board"): Promise<string> {
  const job = await call(base, "POST", `${EV}/jobs`, {
    model: { name: model },
    benchmarks: [
      { id: "custom_qa", provider_id: "external", primary_score: { metric: "f1", lower_is_better: false } },
      { id: "toxicity", provider_id: "external", primary_score: { metric: "rate", lower_is_better: true } },
    ],
    experiment: { name: experiment, tags: [{ key: "team", value: "e2e" }] },
  });
  await call(base, "POST", `${EV}/jobs/${job.id}/events`, { benchmark_index: 0, state: "completed", metrics: { f1 } }, job.runner_token);
  await call(base, "POST", `${EV}/jobs/${job.id}/events`, { benchmark_index: 1, state: "completed", metrics: { rate } }, job.runner_token);
  return job.id as string;
}

async function registerModel(base: string, name: string, versions: number): Promise<void> {
  const api = "/api/2.0/mlflow";
  const exp = await call(base, "POST", `${api}/experiments/create`, { name: `${name}-training` });
  await call(base, "POST", `${api}/registered-models/create`, { name });
  for (let i = 0; i < versions; i++) {
    const run = await call(base, "POST", `${api}/runs/create`, { experiment_id: exp.experiment_id, start_time: Date.now() });
    const id = run.run.info.run_id;
    await call(base, "POST", `${api}/model-versions/create`, { name, source: `runs:/${id}/model`, run_id: id });
  }
}

test("an evaluation submitted through the form runs live to completed; list, leaderboard and links", async ({ page, baseURL }) => {
  const base = baseURL!;
  await page.goto("/");
  await page.getByTestId("nav-evaluations").click();
  await expect(page).toHaveURL(/\/evaluations$/);
  await expect(page.getByTestId("evaluations-page")).toBeVisible();

  await page.getByTestId("eval-new").click();
  await expect(page).toHaveURL(/\/evaluations\/new$/);
  await page.getByTestId("eval-submit").click();
  // the form names the missing field before anything is sent
  await expect(page.locator('[data-field="model.name"] [data-testid="field-error"]')).toContainText("model.name: is required");

  await page.getByTestId("eval-model").fill("demo-llm");
  await page.getByTestId("eval-server").fill("vllm");
  await page.getByTestId("eval-provider").selectOption("external");
  await page.getByTestId("eval-benchmark").fill("custom_qa");
  await page.getByTestId("eval-metric").fill("f1");
  await page.getByTestId("eval-experiment").fill("bad name!");
  await page.getByTestId("eval-tags").fill("team=e2e");
  await page.getByTestId("eval-submit").click();
  // the server's 400 names the field; the form marks it
  await expect(page.locator('[data-field="experiment.name"] [data-testid="field-error"]')).toContainText("experiment.name");
  await page.getByTestId("eval-experiment").fill("e2e-form");
  await page.getByTestId("eval-submit").click();

  // an external benchmark: the runner token is shown once
  const token = (await page.getByTestId("eval-runner-token").textContent())!.trim();
  expect(token.length).toBeGreaterThan(20);
  await page.getByRole("link", { name: "Open the job" }).click();
  await expect(page).toHaveURL(/\/evaluations\/jobs\/ev-[0-9a-f]+$/);
  const jobId = page.url().split("/").pop()!;
  await expect(page.getByTestId("eval-job-state")).toHaveAttribute("data-state", "pending");

  // the runner reports; the page follows without a reload
  await call(base, "POST", `${EV}/jobs/${jobId}/events`, { benchmark_index: 0, state: "running", phase: "scoring", progress: 0.5, logs: ["runner: 50 of 100 questions"] }, token);
  await expect(page.getByTestId("eval-job-state")).toHaveAttribute("data-state", "running");
  await expect(page.getByTestId("eval-benchmark-state")).toHaveAttribute("data-state", "running");
  await expect(page.getByTestId("eval-progress").first()).toHaveAttribute("aria-valuenow", "50");
  await expect(page.getByTestId("eval-benchmarks")).toContainText("scoring");
  await call(base, "POST", `${EV}/jobs/${jobId}/events`, { benchmark_index: 0, state: "completed", metrics: { f1: 0.82, exact_match: 0.7 }, logs: ["runner: done"] }, token);
  await expect(page.getByTestId("eval-job-state")).toHaveAttribute("data-state", "completed");
  await expect(page.getByTestId("eval-overall")).toHaveText("0.820");
  await expect(page.getByTestId("eval-logs")).toContainText("runner: 50 of 100 questions");
  await expect(page.getByTestId("eval-logs")).toContainText("runner: done");
  await expect(page.getByTestId("eval-cancel")).toBeDisabled();
  await expect(page.getByTestId("eval-experiment-link")).toHaveText("eval-hub_e2e-form");
  await setTheme(page, "light");
  await shot(page, "evaluation-job", undefined, { fullPage: true });

  // the benchmark's run links back to its job
  await page.getByTestId("eval-benchmark-run").click();
  await expect(page.getByTestId("run-eval-job")).toHaveText(`Evaluation job ${jobId}`);
  await page.getByTestId("run-eval-job").getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`/evaluations/jobs/${jobId}$`));

  // a registered model: versions 1 and 2, champion 1; a version's page lists its jobs
  await registerModel(base, "e2e-clf", 2);
  await call(base, "POST", "/api/2.0/mlflow/registered-models/alias", { name: "e2e-clf", alias: "champion", version: "1" });
  await externalJob(base, "models:/e2e-clf/1", 0.8, 0.12);
  const v2job = await externalJob(base, "models:/e2e-clf/latest", 0.86, 0.09);
  await externalJob(base, "other-llm", 0.74, 0.2);

  await page.goto("/evaluations");
  await expect(page.getByTestId("eval-row")).toHaveCount(4);
  await expect(page.getByTestId("eval-summary")).toHaveText("4 completed");
  await shot(page, "evaluations-list");
  await page.getByTestId("eval-filter-model").fill("e2e-clf");
  await page.getByTestId("eval-apply").click();
  await expect(page).toHaveURL(/model=e2e-clf/);
  await expect(page.getByTestId("eval-row")).toHaveCount(2);
  await page.getByTestId("eval-filter-state").selectOption("failed");
  await expect(page.getByTestId("eval-empty")).toBeVisible();

  await page.goto("/models/e2e-clf/versions/2");
  await expect(page.getByTestId("version-eval-row")).toHaveCount(1);
  await expect(page.getByTestId("version-evaluations")).toContainText(v2job);

  // the leaderboard: best first, the champion starred, deltas coloured
  await page.goto("/evaluations");
  await page.getByTestId("nav-leaderboard").click();
  await expect(page).toHaveURL(/\/evaluations\/leaderboard$/);
  const rows = page.getByTestId("board-row");
  await expect(rows).toHaveCount(4);
  await expect(rows.nth(0)).toContainText("e2e-clf v2");
  await expect(rows.nth(1)).toContainText("demo-llm");
  await expect(rows.nth(2)).toContainText("e2e-clf v1");
  await expect(rows.nth(2)).toHaveClass(/champion/);
  const deltas = rows.nth(0).getByTestId("board-delta");
  await expect(deltas).toHaveCount(2);
  await expect(deltas.nth(0)).toHaveAttribute("data-tone", "better");
  await expect(deltas.nth(0)).toHaveText("+0.060");
  await expect(deltas.nth(1)).toHaveAttribute("data-tone", "better"); // lower toxicity
  await expect(deltas.nth(1)).toHaveText("−0.030");
  await expect(rows.nth(1).getByTestId("board-score").nth(1)).toHaveText("—");
  await expect(page.getByTestId("board-chart")).toHaveCount(2);
  // a click on a header sorts by it, best (lowest toxicity) first; again: worst first
  await page.getByTestId("board-sort").nth(1).click();
  await expect(rows.nth(0)).toContainText("e2e-clf v2");
  await expect(rows.nth(3)).toContainText("demo-llm");
  await page.getByTestId("board-sort").nth(1).click();
  await expect(rows.nth(0)).toContainText("other-llm");
  await expect(rows.nth(3)).toContainText("demo-llm");
  await page.getByTestId("board-sort").nth(0).click();
  await expect(rows.nth(0)).toContainText("e2e-clf v2");
  await page.getByTestId("board-models").fill("e2e-clf");
  await page.getByTestId("board-apply").click();
  await expect(rows).toHaveCount(2);
  await page.getByTestId("board-models").fill("");
  await page.getByTestId("board-apply").click();
  await expect(rows).toHaveCount(4);
  await shot(page, "evaluation-leaderboard", undefined, { fullPage: true });
});

test("pasted JSON in either shape is accepted, a job is cancelled from its page", async ({ page }) => {
  await page.goto("/evaluations/new");
  await page.getByTestId("eval-mode-json").click();
  await page.getByTestId("eval-json").fill('{"model": {"name": "m"}, "benchmarks": [{"id": "x", "provider_id": "nope"}]}');
  await page.getByTestId("eval-submit").click();
  await expect(page.getByTestId("eval-submit-error")).toContainText("nope");
  await page.getByTestId("eval-json").fill("{not json");
  await page.getByTestId("eval-submit").click();
  await expect(page.getByTestId("eval-submit-error")).toContainText("request: is not JSON");
  const hub = { model: { name: "paste-llm", url: "http://127.0.0.1:9/v1" }, benchmarks: [{ id: "slow_qa", provider_id: "external" }], experiment: { name: "e2e-paste", tags: [{ key: "k", value: "v" }] } };
  await page.getByTestId("eval-json").fill(JSON.stringify(hub));
  await page.getByTestId("eval-submit").click();
  await expect(page.getByTestId("eval-runner-token")).toBeVisible();
  await page.getByRole("link", { name: "Open the job" }).click();
  await expect(page.getByTestId("eval-job-state")).toHaveAttribute("data-state", "pending");
  await expect(page.getByTestId("eval-job-page")).toContainText("http://127.0.0.1:9/v1");
  await page.getByTestId("eval-cancel").click();
  await expect(page.getByTestId("eval-job-state")).toHaveAttribute("data-state", "cancelled");
  await expect(page.getByTestId("eval-benchmark-state")).toHaveAttribute("data-state", "cancelled");
  await expect(page.getByTestId("eval-cancel")).toBeDisabled();
});

/** Train and register security_prompt_classifier (versions 1 and 2) on the shared server with
 * the demo workflow, and put its labelled prompt set under the server's evaluation data root. */
function securityClassifier(base: string): void {
  const python = join(REPO, ".venv", "bin", "python");
  execFileSync(python, ["-c", "import sys; from cairn.demo.prompts import main; main(['--tracking-uri', sys.argv[1]])", base], { timeout: 300_000, stdio: "pipe", env: process.env });
  const data = join(dirname(process.env.CAIRN_E2E_LOG!), "eval-data");
  mkdirSync(data, { recursive: true });
  copyFileSync(join(REPO, "cairn", "evals", "data", "security_prompts.csv"), join(data, "security_prompts.csv"));
}

/** Seed 000's test results: `through` of `n` attacks of each type got through. */
function results(through: Record<string, number>, n = 4): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const type of ["prompt_injection", "jailbreak", "system_extraction", "code_injection"]) {
    for (let i = 0; i < n; i++) out.push({ attack_type: type, prompt: `${type} probe ${i}`, success: i < (through[type] ?? 0) });
  }
  for (let i = 0; i < n; i++) out.push({ attack_type: "benign", prompt: `a harmless question ${i}`, detected: false });
  return out;
}

test("the cairn provider through the form, and a model's security view from two red-team runs", async ({ page, baseURL }) => {
  test.setTimeout(240_000);
  const base = baseURL!;
  const model = "security_prompt_classifier";
  securityClassifier(base);

  await page.goto(`/evaluations/new?model=${encodeURIComponent(`models:/${model}/1`)}`);
  await expect(page.getByTestId("eval-model")).toHaveValue(`models:/${model}/1`);
  await page.getByTestId("eval-provider").selectOption("cairn");
  await page.getByTestId("eval-benchmark").selectOption("classification");
  await page.getByTestId("eval-param-dataset_path").fill("security_prompts.csv");
  await page.getByTestId("eval-param-target").fill("label");
  await page.getByTestId("eval-param-max_rows").fill("many");
  await page.getByTestId("eval-submit").click();
  await expect(page.locator('[data-field="benchmarks[0].config.max_rows"] [data-testid="field-error"]')).toContainText("whole number");
  await page.getByTestId("eval-param-max_rows").fill("");
  await page.getByTestId("eval-experiment").fill("e2e-security");
  await setTheme(page, "dark");
  await shot(page, "evaluation-new-dark", undefined, { fullPage: true });
  await setTheme(page, "light");
  await page.getByTestId("eval-submit").click();
  await expect(page).toHaveURL(/\/evaluations\/jobs\/ev-[0-9a-f]+$/);
  await expect(page.getByTestId("eval-job-state")).toHaveAttribute("data-state", "completed", { timeout: 120_000 });
  await expect(page.getByTestId("eval-model-link")).toHaveText(`${model} v1`);
  await expect(page.getByTestId("eval-benchmarks")).toContainText("accuracy");

  // two red-team runs through seed 000's call: v2 stops jailbreaks, lets a code injection through
  await call(base, "POST", "/api/v1/red-team/log", { model_name: model, model_version: 1, test_results: results({ jailbreak: 2, prompt_injection: 1 }) });
  await call(base, "POST", "/api/v1/red-team/log", { model_name: model, model_version: 2, test_results: results({ code_injection: 1 }), attack_patterns: ["ignore previous instructions"] });

  await page.goto(`/models/${model}`);
  await page.getByTestId("model-security-link").click();
  await expect(page).toHaveURL(new RegExp(`/models/${model}/security$`));
  const heat = page.getByTestId("security-heatmap");
  await expect(heat.locator("thead th")).toHaveText(["Attack type", "v1", "v2"]);
  await expect(heat.locator("tbody tr")).toHaveCount(5); // detection rate + four attack types
  const jailbreak = heat.locator("tbody tr", { hasText: "jailbreak" }).getByTestId("heat-cell");
  await expect(jailbreak).toHaveText(["50.0%", "0.0%"]);
  await expect(page.getByTestId("heat-detection")).toHaveText(["81.3%", "93.8%"]);
  const changes = page.getByTestId("security-changes");
  await expect(changes).toContainText("code_injection attacks got through in v2 (none in v1)");
  await expect(changes).toContainText("jailbreak attacks stopped getting through in v2");
  await expect(changes).toContainText("prompt_injection attacks stopped getting through in v2");
  await expect(changes).toContainText("detection rate rose from 81.3% to 93.8% in v2");
  await expect(page.getByTestId("security-trend")).toBeVisible();
  await setTheme(page, "light");
  await shot(page, "evaluation-security", undefined, { fullPage: true });
});
