import { describe, expect, it } from "vitest";
import { datasetsSummary, type Lineage } from "./api";
import { buildLineage, layout } from "./lineage";

const data: Lineage = {
  dataset: {
    dataset_id: "d1",
    experiment_id: "1",
    name: "iris",
    digest: "abcdef123456",
    source_type: "local",
    source: { uri: "/iris.csv" },
    schema: null,
    profile: null,
    num_rows: 150,
    run_count: 2,
  },
  runs: [
    { run_id: "r1aaaaaaaaaa", run_name: "train", context: "training" },
    { run_id: "r2bbbbbbbbbb", run_name: null, context: "evaluation" },
  ],
  model_versions: [
    { name: "clf", version: "1", run_id: "r1aaaaaaaaaa", current_stage: "Production", status: "READY", source: "", aliases: ["champion", "prod"] },
    { name: "clf", version: "2", run_id: "r1aaaaaaaaaa", current_stage: "None", status: "READY", source: "", aliases: [] },
    { name: "my model", version: "3", run_id: "r9zzzzzzzzzz", current_stage: "Staging", status: "READY", source: "", aliases: [] },
  ],
};

describe("lineage graph", () => {
  it("builds dataset → runs → versions → aliases/stages with links", () => {
    const g = buildLineage(data);
    const byId = Object.fromEntries(g.nodes.map((n) => [n.id, n]));
    expect(byId["dataset:d1"].label).toBe("iris (abcdef12)");
    expect(byId["run:r1aaaaaaaaaa"].link).toBe("/runs/r1aaaaaaaaaa");
    expect(byId["run:r2bbbbbbbbbb"].label).toBe("r2bbbbbb");
    expect(byId["version:clf/1"].link).toBe("/models/clf/versions/1");
    expect(byId["version:my model/3"].link).toBe("/models/my%20model/versions/3");
    expect(byId["alias:clf@champion"].link).toBe("/models/clf/versions/1");
    expect(byId["stage:clf/Production/1"].column).toBe(3);
    expect(Object.keys(byId).some((id) => id.startsWith("stage:clf/None"))).toBe(false);
    // a version whose run is not among the dataset's runs still gets its run node
    expect(byId["run:r9zzzzzzzzzz"].column).toBe(1);
    expect(g.edges).toContainEqual({ source: "dataset:d1", target: "run:r2bbbbbbbbbb" });
    expect(g.edges).toContainEqual({ source: "run:r1aaaaaaaaaa", target: "version:clf/2" });
    expect(g.edges).toContainEqual({ source: "version:clf/1", target: "alias:clf@prod" });
    expect(g.edges.filter((e) => e.source === "dataset:d1")).toHaveLength(2);
    expect(g.rows).toBe(4); // two aliases and two stages
  });

  it("lays columns out left to right, rows without overlap", () => {
    const g = buildLineage(data);
    const pos = layout(g, 1000, 300);
    const [dx] = pos.get("dataset:d1")!;
    const [rx, ry1] = pos.get("run:r1aaaaaaaaaa")!;
    const [, ry2] = pos.get("run:r2bbbbbbbbbb")!;
    const [vx] = pos.get("version:clf/1")!;
    expect(dx).toBeLessThan(rx);
    expect(rx).toBeLessThan(vx);
    expect(ry1).not.toBe(ry2);
    expect(pos.size).toBe(g.nodes.length);
  });

  it("handles a dataset nobody used", () => {
    const g = buildLineage({ ...data, runs: [], model_versions: [] });
    expect(g.nodes).toHaveLength(1);
    expect(g.edges).toEqual([]);
  });
});

describe("datasets summary", () => {
  it("says how many datasets and how often runs used them", () => {
    expect(datasetsSummary([2, 2, 1, 1, 1, 1, 1], false)).toBe("7 datasets, used 9 times");
    expect(datasetsSummary([1], false)).toBe("1 dataset");
    expect(datasetsSummary([1, 1], false)).toBe("2 datasets");
    expect(datasetsSummary([3], false)).toBe("1 dataset, used 3 times");
    expect(datasetsSummary([1, 1], true)).toBe("2+ datasets");
  });
});
