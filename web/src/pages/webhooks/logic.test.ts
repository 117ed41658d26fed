import { describe, expect, it } from "vitest";
import { bodyOf, draftProblems, EMPTY_DRAFT, excerpt, groupEvents, outcomeText, scopeText, toggle } from "./logic";

describe("event groups", () => {
  it("groups pairs by entity in the server's order", () => {
    const groups = groupEvents([
      { entity: "model_version", action: "created" },
      { entity: "run", action: "finished" },
      { entity: "model_version", action: "deleted" },
    ]);
    expect(groups).toEqual([
      { entity: "model_version", events: ["model_version.created", "model_version.deleted"] },
      { entity: "run", events: ["run.finished"] },
    ]);
  });
  it("toggles a checkbox without duplicates", () => {
    expect(toggle(["a"], "a", true)).toEqual(["a"]);
    expect(toggle(["a"], "b", true)).toEqual(["a", "b"]);
    expect(toggle(["a", "b"], "a", false)).toEqual(["b"]);
  });
});

describe("create form", () => {
  it("says what is missing", () => {
    expect(draftProblems(EMPTY_DRAFT)).toEqual(["a name", "an http(s) URL", "at least one event"]);
    const ok = { ...EMPTY_DRAFT, name: "ci", url: "https://ci.example/hook", events: ["run.finished"] };
    expect(draftProblems(ok)).toEqual([]);
    expect(draftProblems({ ...ok, url: "ftp://x" })).toEqual(["an http(s) URL"]);
    expect(draftProblems({ ...ok, scopeKind: "model" })).toEqual(["the model name"]);
  });
  it("sends the scope and leaves empty fields out", () => {
    const draft = { ...EMPTY_DRAFT, name: " ci ", url: "https://ci.example/hook ", events: ["run.finished"], scopeKind: "experiment" as const, scopeValue: "3" };
    expect(bodyOf(draft)).toEqual({ name: "ci", url: "https://ci.example/hook", events: ["run.finished"], scope: { experiment_id: "3" } });
    expect(bodyOf({ ...draft, scopeKind: "global", secret: "s" })).toEqual({ name: "ci", url: "https://ci.example/hook", events: ["run.finished"], secret: "s" });
  });
});

describe("delivery outcome", () => {
  it("reads as the status, or the error when there was no answer", () => {
    expect(outcomeText({ attempts: 1, last_status_code: 200, error: null, state: "succeeded" })).toBe("HTTP 200");
    expect(outcomeText({ attempts: 2, last_status_code: 500, error: "HTTP 500", state: "pending" })).toBe("HTTP 500");
    expect(outcomeText({ attempts: 1, last_status_code: 302, error: "HTTP 302: redirect to http://x not followed", state: "failed" })).toBe(
      "HTTP 302: redirect to http://x not followed",
    );
    expect(outcomeText({ attempts: 1, last_status_code: null, error: "timed out after 10 s", state: "pending" })).toBe("timed out after 10 s");
    expect(outcomeText({ attempts: 0, last_status_code: null, error: null, state: "pending" })).toBe("not sent yet");
  });
  it("shortens excerpts and names scopes", () => {
    expect(excerpt("a\n  b")).toBe("a b");
    expect(excerpt("x".repeat(100), 10)).toBe("xxxxxxxxx…");
    expect(scopeText(null)).toBe("all events");
    expect(scopeText({ model_name: "churn" })).toBe("model churn");
  });
});
