import { describe, expect, it } from "vitest";
import { followMlflowLink, mlflowHashToPath } from "./mlflowLinks";

describe("mlflowHashToPath", () => {
  it("maps the run link the mlflow client prints", () => {
    expect(mlflowHashToPath("#/experiments/1/runs/0a1b2c")).toBe("/runs/0a1b2c");
  });
  it("maps experiments, with and without a trailing view", () => {
    expect(mlflowHashToPath("#/experiments/7")).toBe("/experiments/7");
    expect(mlflowHashToPath("#/experiments/7/runs")).toBe("/experiments/7");
    expect(mlflowHashToPath("#/experiments/7/traces")).toBe("/experiments/7/traces");
    expect(mlflowHashToPath("#/experiments/7/traces?selectedTraceId=tr-0a1b")).toBe("/experiments/7/traces/tr-0a1b");
    expect(mlflowHashToPath("#/experiments/7?compareRunsMode=TRACES&selectedTraceId=tr-0a1b")).toBe("/experiments/7/traces/tr-0a1b");
    expect(mlflowHashToPath("#/experiments/7?compareRunsMode=TRACES")).toBe("/experiments/7/traces");
    expect(mlflowHashToPath("#/experiments")).toBe("/");
    expect(mlflowHashToPath("#/")).toBe("/");
  });
  it("opens a run's artifact at its file", () => {
    expect(mlflowHashToPath("#/experiments/1/runs/abc/artifacts/model/MLmodel")).toBe("/runs/abc?artifact=model%2FMLmodel#artifacts");
    expect(mlflowHashToPath("#/experiments/1/runs/abc/artifactPath/plots/a%20b.png")).toBe("/runs/abc?artifact=plots%2Fa%20b.png#artifacts");
    expect(mlflowHashToPath("#/experiments/1/runs/abc/artifacts")).toBe("/runs/abc#artifacts");
  });
  it("maps compare links with JSON or comma lists", () => {
    const json = encodeURIComponent('["r1","r2","r1"]');
    expect(mlflowHashToPath(`#/compare-runs?runs=${json}&experiments=${encodeURIComponent('["1"]')}`)).toBe("/compare?runs=r1,r2");
    expect(mlflowHashToPath("#/compare-runs?runs=r1,r2")).toBe("/compare?runs=r1,r2");
    expect(mlflowHashToPath("#/compare-runs")).toBe("/");
  });
  it("maps registry links, decoding names once and encoding them again", () => {
    expect(mlflowHashToPath("#/models")).toBe("/models");
    expect(mlflowHashToPath("#/models/lims%20classifier")).toBe("/models/lims%20classifier");
    expect(mlflowHashToPath("#/models/m/versions/3")).toBe("/models/m/versions/3");
    expect(mlflowHashToPath(`#/compare-model-versions?name=${encodeURIComponent('"m"')}&runs=x`)).toBe("/models/m");
  });
  it("maps metric links to the metrics page", () => {
    const runs = encodeURIComponent('["a","b"]');
    expect(mlflowHashToPath(`#/metric?runs=${runs}&metric=${encodeURIComponent('"loss"')}`)).toBe("/metrics?runs=a%2Cb&keys=loss");
  });
  it("leaves what is not an MLflow route alone", () => {
    expect(mlflowHashToPath("")).toBeNull();
    expect(mlflowHashToPath("#artifacts")).toBeNull();
    expect(mlflowHashToPath("#/something-else")).toBeNull();
  });
  it("keeps hostile ids inside one path segment", () => {
    expect(mlflowHashToPath("#/experiments/1/runs/..%2F..%2Fapi")).toBe("/runs/..%2F..%2Fapi");
    expect(mlflowHashToPath("#/models/%E0%A4%A")).toBe("/models/%25E0%25A4%25A");
  });
});

describe("followMlflowLink", () => {
  it("replaces the address only on the root page", () => {
    const calls: string[] = [];
    const history = { replaceState: (_s: unknown, _t: string, url: string) => calls.push(url) } as unknown as History;
    followMlflowLink({ pathname: "/", hash: "#/experiments/2/runs/r" } as Location, history);
    followMlflowLink({ pathname: "/runs/x", hash: "#/experiments/2" } as Location, history);
    followMlflowLink({ pathname: "/", hash: "#overview" } as Location, history);
    expect(calls).toEqual(["/runs/r"]);
  });
});
