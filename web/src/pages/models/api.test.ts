import { describe, expect, it } from "vitest";
import { describeEvent, filterLiteral, modelFilter, keyMetrics, metricOverVersions, modelUris, proxiedPath, type VersionPerformance } from "./api";

describe("model helpers", () => {
  it("lists the models:/ URIs of a version", () => {
    expect(modelUris({ name: "clf", version: "3", current_stage: "Production", aliases: ["champion"] }).map((u) => u.uri)).toEqual([
      "models:/clf/3",
      "models:/clf@champion",
      "models:/clf/Production",
    ]);
    expect(modelUris({ name: "clf", version: "1", current_stage: "None" }).map((u) => u.uri)).toEqual(["models:/clf/1"]);
  });

  it("maps proxied artifact URIs to listable paths", () => {
    expect(proxiedPath("mlflow-artifacts:/0/abc/artifacts/model")).toBe("0/abc/artifacts/model");
    expect(proxiedPath("mlflow-artifacts://host:5000/1/models/m-1/artifacts/")).toBe("1/models/m-1/artifacts");
    expect(proxiedPath("s3://bucket/x")).toBeNull();
  });

  it("describes history events", () => {
    expect(describeEvent({ version: "2", kind: "stage_transition", from: "Staging", to: "Production", actor: null, time: 1 })).toBe(
      "version 2 moved from Staging to Production",
    );
    expect(describeEvent({ version: "3", kind: "alias_moved", from: "2", to: "champion", actor: null, time: 1 })).toBe(
      "alias @champion moved from version 2 to version 3",
    );
  });

  it("turns the search box into a registry filter", () => {
    expect(modelFilter(" clf ")).toBe("name ILIKE '%clf%'");
    expect(modelFilter("tags.team = 'lab'")).toBe("tags.team = 'lab'");
    expect(modelFilter("name LIKE 'c%'")).toBe("name LIKE 'c%'");
    expect(modelFilter("")).toBeUndefined();
    expect(modelFilter("tagsy")).toBe("name ILIKE '%tagsy%'");
  });

  it("quotes filter literals", () => {
    expect(filterLiteral("it's")).toBe("'it\\'s'");
  });

  it("takes a metric across versions, skipping versions without it", () => {
    const v = (version: string, metrics: Record<string, number | string> | null): VersionPerformance => ({
      version: {
        name: "m",
        version,
        current_stage: "None",
        aliases: [],
        description: null,
        tags: {},
        creation_timestamp: 1,
        last_updated_timestamp: 1,
        user_id: null,
        source: "",
        run_id: null,
        status: "READY",
        model_id: null,
      },
      run: metrics
        ? { run_id: "r", run_name: null, experiment_id: "0", status: "FINISHED", lifecycle_stage: "active", user_id: null, start_time: null, end_time: null, params: {}, metrics }
        : null,
      datasets: [],
    });
    const points = metricOverVersions([v("1", { acc: 0.5 }), v("2", null), v("3", { acc: "NaN" }), v("4", { acc: 0.7, f1: 1 })], "acc");
    expect(points.map((p) => [p.version, p.value])).toEqual([
      ["1", 0.5],
      ["4", 0.7],
    ]);
    expect(keyMetrics({ z: 1, a: 2, m: 3, b: 4 }, 2)).toEqual([
      ["a", 2],
      ["b", 4],
    ]);
  });
});
