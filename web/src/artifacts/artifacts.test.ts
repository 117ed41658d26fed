import { describe, expect, it } from "vitest";
import { artifactKind, formatBytes, languageOf } from "./kinds";
import { parseCsvPreview } from "./csv";
import { parseMLmodel, parseSignaturePart } from "./mlmodel";
import { artifactRoot, artifactUrl } from "./api";

describe("artifact kinds by name", () => {
  it.each([
    ["plots/roc.png", "image"],
    ["a/b/photo.JPEG", "image"],
    ["chart.svg", "image"],
    ["notes.txt", "text"],
    ["train.log", "text"],
    ["metrics.json", "json"],
    ["conda.yaml", "yaml"],
    ["config.yml", "yaml"],
    ["train.py", "python"],
    ["setup.cfg", "ini"],
    ["data/sample.csv", "csv"],
    ["data/sample.tsv", "tsv"],
    ["data/part-0.parquet", "parquet"],
    ["report.html", "html"],
    ["model/MLmodel", "mlmodel"],
    ["model/model.pkl", "other"],
    ["noextension", "other"],
    [".hidden", "other"],
  ])("%s is %s", (path, kind) => {
    expect(artifactKind(path)).toBe(kind);
  });
  it("highlights only the four bundled languages", () => {
    expect(languageOf("json")).toBe("json");
    expect(languageOf("mlmodel")).toBe("yaml");
    expect(languageOf("text")).toBeNull();
    expect(languageOf("csv")).toBeNull();
  });
  it("formats sizes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(2048)).toBe("2.0 KiB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MiB");
  });
});

describe("CSV previews", () => {
  it("reads a header and rows", () => {
    const t = parseCsvPreview("a,b\n1,2\n3,\"x,y\"\n", false, 10);
    expect(t.fields).toEqual(["a", "b"]);
    expect(t.rows).toEqual([["1", "2"], ["3", "x,y"]]);
    expect(t.truncated).toBe(false);
  });
  it("stops at the row limit and says so", () => {
    const text = "n\n" + Array.from({ length: 50 }, (_, i) => String(i)).join("\n");
    const t = parseCsvPreview(text, false, 10);
    expect(t.rows).toHaveLength(10);
    expect(t.rows[9]).toEqual(["9"]);
    expect(t.truncated).toBe(true);
  });
  it("drops the cut-off last line of a partial read", () => {
    const t = parseCsvPreview("a,b\n1,2\n3,4\n5,", true, 100);
    expect(t.rows).toEqual([["1", "2"], ["3", "4"]]);
    expect(t.truncated).toBe(true);
  });
  it("reads TSV and names missing header cells", () => {
    const t = parseCsvPreview("x\n1\t2\n", false, 5, "\t");
    expect(t.fields).toEqual(["x", "column 2"]);
    expect(t.rows).toEqual([["1", "2"]]);
  });
  it("handles an empty file", () => {
    expect(parseCsvPreview("", false, 5)).toEqual({ fields: [], rows: [], truncated: false });
  });
});

const MLMODEL = `artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.9
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.2
mlflow_version: 3.17.2
model_uuid: 8a1c
run_id: 0123abcd
signature:
  inputs: '[{"type": "double", "name": "sepal_length", "required": true}, {"type": "string", "name": "site", "required": false}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
  params: null
utc_time_created: '2026-11-22 10:00:00.000000'
`;

describe("MLmodel summaries", () => {
  it("lists flavours, signature and origin", () => {
    const m = parseMLmodel(MLMODEL);
    expect(m.flavors.map((f) => f.name)).toEqual(["python_function", "sklearn"]);
    expect(m.flavors[0].details).toContainEqual(["env.conda", "conda.yaml"]);
    expect(m.flavors[1].details).toContainEqual(["sklearn_version", "1.5.2"]);
    expect(m.inputs).toEqual([
      { name: "sepal_length", type: "double", optional: false },
      { name: "site", type: "string", optional: true },
    ]);
    expect(m.outputs).toEqual([{ name: null, type: "tensor int64(-1)", optional: false }]);
    expect(m.params).toBeNull();
    expect(m.runId).toBe("0123abcd");
    expect(m.artifactPath).toBe("model");
    expect(m.created).toBe("2026-11-22 10:00:00.000000");
  });
  it("has no signature when none was logged", () => {
    const m = parseMLmodel("flavors:\n  sklearn: {}\nrun_id: x\n");
    expect(m.inputs).toBeNull();
    expect(m.outputs).toBeNull();
  });
  it("refuses what is not a mapping", () => {
    expect(() => parseMLmodel("- a\n- b\n")).toThrow();
    expect(parseSignaturePart("not json")).toBeNull();
  });
});

describe("artifact locations", () => {
  it("downloads proxied artifacts through mlflow-artifacts", () => {
    const root = artifactRoot("r1", "mlflow-artifacts:/3/r1/artifacts");
    expect(root.proxied).toBe("3/r1/artifacts");
    expect(artifactUrl(root, "plots/a b.png")).toBe("/api/2.0/mlflow-artifacts/artifacts/3/r1/artifacts/plots/a%20b.png");
  });
  it("falls back to the run's routes for other stores", () => {
    const root = artifactRoot("r1", "s3://bucket/x");
    expect(root.proxied).toBeNull();
    expect(artifactUrl(root, "a.txt")).toBe("/get-artifact?run_uuid=r1&path=a.txt");
  });
});
