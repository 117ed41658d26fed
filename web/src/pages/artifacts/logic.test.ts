import { describe, expect, it } from "vitest";
import { artifactKey, isArtifactType, parseKey, previewTarget, runArtifactLink, type ArtifactOut } from "./logic";

const hit = (over: Partial<ArtifactOut>): ArtifactOut => ({
  experiment_id: "3",
  experiment_name: "sweep",
  run_id: "0123456789abcdef0123456789abcdef",
  run_name: "trial-1",
  run_status: "FINISHED",
  run_start_time: 1,
  artifact_uri: "mlflow-artifacts:/3/0123456789abcdef0123456789abcdef/artifacts",
  path: "plots/roc curve.png",
  is_dir: false,
  file_size: 2048,
  type: "image",
  files: 1,
  model_id: null,
  ...over,
});

describe("the artifacts tab", () => {
  it("keys an artifact by run and path, and reads the key back", () => {
    const a = hit({});
    expect(parseKey(artifactKey(a))).toEqual({ runId: a.run_id, path: "plots/roc curve.png" });
    expect(parseKey("a:b:c")).toEqual({ runId: "a", path: "b:c" }); // a path may hold colons
    expect(parseKey(":x")).toBeNull();
    expect(parseKey("x:")).toBeNull();
    expect(parseKey(null)).toBeNull();
  });
  it("knows the type filters", () => {
    expect(isArtifactType("model")).toBe(true);
    expect(isArtifactType("movies")).toBe(false);
    expect(isArtifactType(null)).toBe(false);
  });
  it("previews a file from its run's proxied root, a model folder by its MLmodel", () => {
    const file = previewTarget(hit({}));
    expect(file.root).toEqual({ runId: hit({}).run_id, proxied: "3/0123456789abcdef0123456789abcdef/artifacts" });
    expect(file.file).toEqual({ path: "plots/roc curve.png", is_dir: false, file_size: 2048 });
    const model = previewTarget(hit({ path: "model", is_dir: true, type: "model", files: 4 }));
    expect(model.file).toEqual({ path: "model/MLmodel", is_dir: false });
  });
  it("previews a logged model from its own location, and links to the run's models", () => {
    const logged = hit({ path: "classifier", is_dir: true, type: "model", model_id: "m-1234", artifact_uri: "mlflow-artifacts:/3/models/m-1234/artifacts" });
    expect(previewTarget(logged)).toEqual({ root: { runId: "m-1234", proxied: "3/models/m-1234/artifacts" }, file: { path: "MLmodel", is_dir: false } });
    expect(runArtifactLink(logged)).toBe("/runs/0123456789abcdef0123456789abcdef#models");
  });
  it("links to the run's artifact browser at the file", () => {
    expect(runArtifactLink(hit({}))).toBe("/runs/0123456789abcdef0123456789abcdef?artifact=plots%2Froc%20curve.png#artifacts");
    expect(runArtifactLink(hit({ path: "model", is_dir: true }))).toBe("/runs/0123456789abcdef0123456789abcdef?artifact=model%2FMLmodel#artifacts");
  });
});
