import { describe, expect, it } from "vitest";
import { auditLink, auditParams, filterFromSearch, searchFromFilter, subjectFilter, timeBound } from "./query";
import { exportHref } from "./api";

describe("the Audit page's URL query", () => {
  it("keeps the known, non-empty filters", () => {
    const f = filterFromSearch(new URLSearchParams("actor=dana&action=&entity_type=run&bogus=1&since=%202026-12-01%20"));
    expect(f).toEqual({ actor: "dana", entity_type: "run", since: "2026-12-01" });
  });
  it("round-trips in a fixed order", () => {
    const f = { model_name: "churn", actor: "erin", until: "2026-12-04" };
    expect(searchFromFilter(f).toString()).toBe("actor=erin&model_name=churn&until=2026-12-04");
    expect(filterFromSearch(searchFromFilter(f))).toEqual(f);
    expect(searchFromFilter({ actor: "  " }).toString()).toBe("");
  });
});

describe("timeBound", () => {
  it("passes ms through and leaves empty out", () => {
    expect(timeBound("1764806400000", false)).toBe("1764806400000");
    expect(timeBound(" ", false)).toBeUndefined();
    expect(timeBound(undefined, true)).toBeUndefined();
  });
  it("reads a date as a whole local day", () => {
    expect(timeBound("2026-12-04", false)).toBe(String(new Date(2026, 11, 4).getTime()));
    // until is exclusive: a date means "up to the end of that day"
    expect(timeBound("2026-12-04", true)).toBe(String(new Date(2026, 11, 5).getTime()));
    expect(timeBound("2026-12-31", true)).toBe(String(new Date(2027, 0, 1).getTime()));
  });
  it("reads a date-time without zone as local, with a zone as given", () => {
    expect(timeBound("2026-12-04 10:30", false)).toBe(String(new Date(2026, 11, 4, 10, 30).getTime()));
    expect(timeBound("2026-12-04T10:30:00Z", false)).toBe(String(Date.UTC(2026, 11, 4, 10, 30)));
  });
  it("hands anything else to the server, which names the field in its 400", () => {
    expect(timeBound("yesterday", false)).toBe("yesterday");
  });
});

describe("auditParams", () => {
  it("sends the filters the contract names, times as ms", () => {
    const p = auditParams({ actor: "dana", entity_type: "run", entity_id: " abc ", since: "2026-12-01", experiment_id: "" });
    expect(p).toEqual({ actor: "dana", entity_type: "run", entity_id: "abc", since: String(new Date(2026, 11, 1).getTime()), until: undefined });
  });
  it("makes the export address with the same filters", () => {
    expect(exportHref({ model_name: "churn model" }, "csv")).toBe("/api/v1/audit/export?format=csv&model_name=churn+model");
    expect(exportHref({}, "jsonl")).toBe("/api/v1/audit/export?format=jsonl");
  });
});

describe("subjectFilter", () => {
  it("selects what each page's history panel shows", () => {
    expect(subjectFilter({ kind: "run", runId: "r1" })).toEqual({ entity_type: "run", entity_id: "r1" });
    expect(subjectFilter({ kind: "experiment", experimentId: "7" })).toEqual({ experiment_id: "7" });
    expect(subjectFilter({ kind: "model", name: "churn" })).toEqual({ model_name: "churn" });
    expect(subjectFilter({ kind: "version", name: "churn", version: "3" })).toEqual({ entity_type: "model_version", entity_id: "churn/3" });
  });
  it("links to the Audit page with the same filter", () => {
    expect(auditLink(subjectFilter({ kind: "version", name: "a/b", version: "2" }))).toBe("/audit?entity_type=model_version&entity_id=a%2Fb%2F2");
    expect(auditLink({})).toBe("/audit");
  });
});
