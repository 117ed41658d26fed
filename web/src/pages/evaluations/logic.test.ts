import { describe, expect, it } from "vitest";
import type { BoardBenchmark, BoardRow, Provider } from "./api";
import {
  anyLive,
  benchmarkProgress,
  deltaTone,
  emptyForm,
  errorField,
  fieldMatches,
  filterFromSearch,
  formatDelta,
  FormError,
  formToRequest,
  heatColor,
  heatColumns,
  jobProgress,
  modelLabel,
  paramValue,
  parsePasted,
  parseTags,
  searchFromFilter,
  securityChanges,
  securityView,
  sortBoard,
  stateSummary,
  stateTone,
  trendLabels,
} from "./logic";

const providers: Provider[] = [
  {
    id: "cairn",
    name: "Cairn",
    description: "",
    runs_in_cairn: true,
    benchmarks: [
      {
        id: "classification",
        name: "Classification",
        description: "",
        category: "",
        metrics: ["accuracy"],
        primary_metric: "accuracy",
        lower_is_better: false,
        open_ended: false,
        parameters: {
          dataset_path: { type: "str", required: true },
          limit: { type: "int" },
          threshold: { type: "float" },
          shuffle: { type: "bool" },
          labels: { type: "list" },
        },
      },
    ],
  },
];

describe("job states", () => {
  it("gives each state a badge tone", () => {
    expect(stateTone("completed")).toBe("FINISHED");
    expect(stateTone("running")).toBe("RUNNING");
    expect(stateTone("failed")).toBe("FAILED");
    expect(stateTone("cancelled")).toBe("KILLED");
    expect(stateTone("partially_failed")).toBe("PARTIAL");
    expect(stateTone("pending")).toBe("");
  });

  it("summarises a list in the states' order", () => {
    const jobs = [{ state: "completed" }, { state: "running" }, { state: "completed" }, { state: "partially_failed" }];
    expect(stateSummary(jobs)).toBe("1 running · 2 completed · 1 partially failed");
    expect(stateSummary([])).toBe("");
  });

  it("is live while any job is pending or running", () => {
    expect(anyLive([{ state: "completed" }, { state: "pending" }])).toBe(true);
    expect(anyLive([{ state: "completed" }, { state: "failed" }])).toBe(false);
  });

  it("reads a benchmark's progress, indeterminate when a running one does not tell", () => {
    expect(benchmarkProgress({ state: "pending", progress: null })).toBe(0);
    expect(benchmarkProgress({ state: "running", progress: 0.4 })).toBe(0.4);
    expect(benchmarkProgress({ state: "running", progress: 7 })).toBe(1);
    expect(benchmarkProgress({ state: "running", progress: null })).toBeNull();
    expect(benchmarkProgress({ state: "failed", progress: 0.2 })).toBe(1);
    const b = (state: "completed" | "running" | "failed") => ({ state }) as never;
    expect(jobProgress({ benchmarks: [b("completed"), b("running"), b("failed")] })).toEqual({ done: 2, total: 3 });
  });

  it("labels a registered version by name and version", () => {
    expect(modelLabel({ name: "models:/clf@champion", registered_name: "clf", registered_version: 3 })).toBe("clf v3");
    expect(modelLabel({ model_name: "llama", registered_name: null, registered_version: null })).toBe("llama");
  });

  it("keeps only known filters in the URL", () => {
    const f = filterFromSearch(new URLSearchParams("state=running&model=%20m%20&tag=&x=1"));
    expect(f).toEqual({ state: "running", model: "m" });
    expect(filterFromSearch(new URLSearchParams("state=bogus"))).toEqual({});
    expect(searchFromFilter({ state: "failed", tag: "team:lims" }).toString()).toBe("state=failed&tag=team%3Alims");
  });
});

describe("the submit form", () => {
  it("turns the form into the seed's shape with typed parameters", () => {
    const form = {
      ...emptyForm(),
      model: " models:/clf/2 ",
      server: "vllm",
      configuration: '{"temperature": 0.1}',
      benchmarks: [{ provider_id: "cairn", benchmark_id: "classification", config: { dataset_path: "d.csv", limit: "10", threshold: "0.5", shuffle: "true", labels: "a, b", extra: "x" } }],
      experiment: "clf-eval",
      tags: "team=lims\n\nstage = dev",
    };
    expect(formToRequest(form, providers)).toEqual({
      model: { name: "models:/clf/2", server: "vllm", configuration: { temperature: 0.1 } },
      benchmarks: [{ benchmark_id: "classification", provider_id: "cairn", config: { dataset_path: "d.csv", limit: 10, threshold: 0.5, shuffle: true, labels: ["a", "b"], extra: "x" } }],
      experiment: { name: "clf-eval", tags: { team: "lims", stage: "dev" } },
    });
  });

  it("adds weight, primary score and pass criteria when given", () => {
    const form = { ...emptyForm(), model: "m", benchmarks: [{ provider_id: "external", benchmark_id: "custom", config: {}, weight: "2", metric: "f1", lowerIsBetter: false, threshold: "0.8" }] };
    expect(formToRequest(form, providers).benchmarks).toEqual([
      { benchmark_id: "custom", provider_id: "external", config: {}, weight: 2, primary_score: { metric: "f1", lower_is_better: false }, pass_criteria: { threshold: 0.8 } },
    ]);
    expect(() => formToRequest({ ...form, benchmarks: [{ ...form.benchmarks[0], weight: "0" }] }, providers)).toThrow(/benchmarks\[0\]\.weight/);
  });

  it("sends a collection instead of benchmarks, and no experiment when none is given", () => {
    const form = { ...emptyForm(), model: "m", source: "collection" as const, collection: "quick" };
    expect(formToRequest(form, providers)).toEqual({ model: { name: "m" }, collection: "quick" });
  });

  it("names the field of each mistake as the server does", () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof FormError ? e.field : "not a FormError";
      }
      return "no error";
    };
    const base = { ...emptyForm(), model: "m" };
    expect(err(() => formToRequest({ ...base, model: " " }, providers))).toBe("model.name");
    expect(err(() => formToRequest({ ...base, configuration: "[1]" }, providers))).toBe("model.configuration");
    expect(err(() => formToRequest(base, providers))).toBe("benchmarks[0].provider_id");
    expect(err(() => formToRequest({ ...base, benchmarks: [{ provider_id: "cairn", benchmark_id: "classification", config: {} }] }, providers))).toBe("benchmarks[0].config.dataset_path");
    expect(err(() => formToRequest({ ...base, benchmarks: [{ provider_id: "cairn", benchmark_id: "classification", config: { dataset_path: "x", limit: "1.5" } }] }, providers))).toBe(
      "benchmarks[0].config.limit",
    );
    expect(err(() => formToRequest({ ...base, source: "collection" }, providers))).toBe("collection");
    expect(err(() => parseTags("ok=1\nnope"))).toBe("experiment.tags");
  });

  it("types parameter values by their spec", () => {
    expect(paramValue(" 3 ", { type: "int" }, "f")).toBe(3);
    expect(paramValue("", { type: "int" }, "f")).toBeUndefined();
    expect(paramValue('{"a": 1}', { type: "object" }, "f")).toEqual({ a: 1 });
    expect(() => paramValue("[1]", { type: "object" }, "f")).toThrow(FormError);
    expect(() => paramValue("maybe", { type: "bool" }, "f")).toThrow(/true or false/);
    expect(paramValue("free text", undefined, "f")).toBe("free text");
  });

  it("recognises pasted JSON in either request shape", () => {
    const seed = '{"model": {"server": "vllm", "name": "m"}, "benchmarks": [{"benchmark_id": "arc_easy", "provider_id": "lm_evaluation_harness"}], "experiment": {"name": "x", "tags": {"a": "b"}}}';
    expect(parsePasted(seed).shape).toBe("seed");
    const hub = '{"model": {"name": "m", "url": "http://127.0.0.1:8000/v1"}, "benchmarks": [{"id": "arc_easy", "provider_id": "lm_evaluation_harness"}]}';
    expect(parsePasted(hub).shape).toBe("evalhub");
    expect(parsePasted('{"model": {"name": "m"}, "collection": "c", "experiment": {"tags": [{"key": "a", "value": "b"}]}}').shape).toBe("evalhub");
    expect(() => parsePasted("{nope")).toThrow(FormError);
    expect(() => parsePasted("[1, 2]")).toThrow(/JSON object/);
  });

  it("finds the field a 400 names and which control it marks", () => {
    expect(errorField("benchmarks[1].provider_id: unknown evaluation provider 'ragas' (known: cairn)")).toBe("benchmarks[1].provider_id");
    expect(errorField("model.name: no registered model 'x'")).toBe("model.name");
    expect(errorField("experiment.name: only letters, digits, _ - .")).toBe("experiment.name");
    expect(errorField("Invalid value for field 'benchmarks[0].weight': must be > 0")).toBe("benchmarks[0].weight");
    expect(errorField("Missing value for required field 'model.name'")).toBe("model.name");
    expect(errorField("Invalid value 'a b' for field 'experiment.name': only letters, digits")).toBe("experiment.name");
    expect(errorField("Too many tags in 'experiment.tags': at most 100")).toBe("experiment.tags");
    expect(errorField("Something went wrong")).toBeNull();
    expect(fieldMatches("benchmarks[0].config.limit", "benchmarks[0].config.limit")).toBe(true);
    expect(fieldMatches("model.configuration.temperature", "model.configuration")).toBe(true);
    expect(fieldMatches("benchmarks[0]", "benchmarks[0].provider_id")).toBe(false);
    expect(fieldMatches("model.names", "model.name")).toBe(false);
    expect(fieldMatches(null, "model.name")).toBe(false);
  });
});

describe("the leaderboard", () => {
  const row = (name: string, score?: number, version: number | null = null): BoardRow => ({
    model_name: name,
    registered_name: version == null ? null : name,
    registered_version: version,
    scores: score == null ? {} : { b: { score, job_id: "ev-1", run_id: null, finished_at: 1 } },
    delta_vs_champion: {},
  });
  const higher: BoardBenchmark = { benchmark_id: "b", provider_id: "p", primary_metric: "acc", lower_is_better: false };
  const lower: BoardBenchmark = { ...higher, primary_metric: "loss", lower_is_better: true };
  const rows = [row("a", 0.5), row("none"), row("c", 0.9), row("d", 0.1)];
  const names = (rs: BoardRow[]) => rs.map((r) => r.model_name);

  it("sorts best first, respecting lower-is-better, missing scores last", () => {
    expect(names(sortBoard(rows, higher))).toEqual(["c", "a", "d", "none"]);
    expect(names(sortBoard(rows, lower))).toEqual(["d", "a", "c", "none"]);
    expect(names(sortBoard(rows, higher, "worst"))).toEqual(["d", "a", "c", "none"]);
    expect(names(sortBoard(rows, undefined))).toEqual(names(rows));
  });

  it("colours a delta as better or worse depending on the direction", () => {
    expect(deltaTone(0.05, false)).toBe("better");
    expect(deltaTone(-0.05, false)).toBe("worse");
    expect(deltaTone(0.05, true)).toBe("worse");
    expect(deltaTone(-0.05, true)).toBe("better");
    expect(deltaTone(0, true)).toBe("same");
    expect(deltaTone(null, false)).toBeNull();
    expect(formatDelta(0.0512)).toBe("+0.051");
    expect(formatDelta(-2)).toBe("−2.00");
    expect(formatDelta(null)).toBe("");
  });
});

describe("the security view", () => {
  it("colours heat-map cells from green (safe) to red, grey without data", () => {
    expect(heatColor(0).background).toBe("hsl(120, 70%, 88%)");
    expect(heatColor(1).background).toBe("hsl(0, 70%, 48%)");
    expect(heatColor(1).color).toBe("#ffffff");
    expect(heatColor(0.5).background).toBe("hsl(60, 70%, 68%)");
    expect(heatColor(7).background).toBe(heatColor(1).background);
    expect(heatColor(null).background).toBe("var(--neutral-soft)");
    expect(heatColor(Number.NaN).color).toBe("var(--text-muted)");
  });

  it("reads the trend's points and works out what changed", () => {
    const raw = {
      model_name: "clf",
      points: [
        { version: 2, time: 2000, run_id: "r2", metrics: { red_team_detection_rate: 0.7, attack_jailbreak_success_rate: 0.2, attack_prompt_injection_success_rate: 0 } },
        { version: 1, time: 1000, run_id: "r1", metrics: { red_team_detection_rate: 0.9, attack_jailbreak_success_rate: 0, attack_prompt_injection_success_rate: 0.1 } },
      ],
    };
    const view = securityView("clf", raw);
    expect(view.points.map((p) => p.label)).toEqual(["v1", "v2"]);
    expect(view.types).toEqual(["prompt_injection", "jailbreak"]);
    expect(view.points[1].rates.jailbreak).toBe(0.2);
    expect(view.changes).toHaveLength(3);
    const texts = securityChanges(view.points, view.types).map((c) => c.text);
    expect(texts).toContain("jailbreak attacks got through in v2 (20.0%; none in v1)");
    expect(texts).toContain("prompt_injection attacks stopped getting through in v2 (10.0% in v1)");
    expect(texts).toContain("detection rate fell from 90.0% to 70.0% in v2");
  });

  it("reads GET /api/v1/red-team/models/{name}: per-type rates, the server's changes, one heat-map column per version", () => {
    const raw = {
      model_name: "clf",
      points: [
        { run_id: "r1", time: 1000, version: "1", experiment_id: "4", total: 20, successful: 3, detection_rate: 0.85, vulnerability_rate: 0.15, benign_false_positive_rate: 0.1, per_type: { jailbreak: { count: 5, successful: 3, success_rate: 0.6 }, code_injection: { count: 5, successful: 0, success_rate: 0 } } },
        { run_id: "r2", time: 2000, version: "2", experiment_id: "4", total: 20, successful: 1, detection_rate: 0.95, vulnerability_rate: 0.05, benign_false_positive_rate: 0.1, per_type: { jailbreak: { count: 5, successful: 0, success_rate: 0 }, code_injection: { count: 5, successful: 1, success_rate: 0.2 } } },
        { run_id: "r3", time: 3000, version: "2", experiment_id: "4", total: 20, successful: 1, detection_rate: 0.95, vulnerability_rate: 0.05, benign_false_positive_rate: 0.1, per_type: { jailbreak: { count: 5, successful: 0, success_rate: 0 }, code_injection: { count: 5, successful: 1, success_rate: 0.2 } } },
      ],
      changes: [{ from_run_id: "r1", to_run_id: "r2", from_version: "1", to_version: "2", time: 2000, newly_through: ["code_injection"], stopped: ["jailbreak"] }],
    };
    const view = securityView("clf", raw);
    expect(view.registered).toBe(true);
    expect(view.types).toEqual(["jailbreak", "code_injection"]);
    expect(view.points[0].rates).toEqual({ jailbreak: 0.6, code_injection: 0 });
    expect(view.points[0].total_tests).toBe(20);
    expect(view.changes.map((c) => [c.tone, c.text])).toEqual([
      ["worse", "code_injection attacks got through in v2 (none in v1)"],
      ["better", "jailbreak attacks stopped getting through in v2 (they did in v1)"],
      ["better", "detection rate rose from 85.0% to 95.0% in v2"],
    ]);
    expect(heatColumns(view.points).map((p) => p.run_id)).toEqual(["r1", "r3"]);
    expect(trendLabels(view.points)).toEqual(["v1", "v2", "v2 (2)"]);
    const unnamed = securityView("distilbert", { points: [{ run_id: "a", time: 5, version: null, per_type: {} }, { run_id: "b", time: 6, version: null, per_type: {} }], changes: [] });
    expect(unnamed.registered).toBe(false);
    expect(heatColumns(unnamed.points)).toHaveLength(2);
  });

  it("takes an empty or unknown answer as no results", () => {
    expect(securityView("x", {}).points).toEqual([]);
    expect(securityView("x", null).changes).toEqual([]);
  });
});
