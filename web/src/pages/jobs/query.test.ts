import { describe, expect, it } from "vitest";
import { attemptsText, filterFromSearch, moves, searchFromFilter, stateTone } from "./query";

describe("job filters", () => {
  it("reads kind and state from the URL, dropping blanks and unknown states", () => {
    expect(filterFromSearch(new URLSearchParams("kind=webhook.deliver&state=failed"))).toEqual({ kind: "webhook.deliver", state: "failed" });
    expect(filterFromSearch(new URLSearchParams("kind=%20&state=exploded"))).toEqual({});
    expect(filterFromSearch(new URLSearchParams("state=RUNNING"))).toEqual({ state: "running" });
  });

  it("writes only what is set, and round-trips", () => {
    expect(searchFromFilter({}).toString()).toBe("");
    const filter = { kind: " audit.prune ", state: "pending" as const };
    expect(searchFromFilter(filter).toString()).toBe("kind=audit.prune&state=pending");
    expect(filterFromSearch(searchFromFilter(filter))).toEqual({ kind: "audit.prune", state: "pending" });
  });
});

describe("job states", () => {
  it("colours states like run statuses", () => {
    expect(stateTone("succeeded")).toBe("FINISHED");
    expect(stateTone("running")).toBe("RUNNING");
    expect(stateTone("failed")).toBe("FAILED");
    expect(stateTone("cancelled")).toBe("KILLED");
    expect(stateTone("pending")).toBe("");
  });

  it("offers cancel while unfinished and retry once failed or cancelled", () => {
    expect(moves({ state: "pending", cancel_requested: false })).toEqual({ cancel: true, retry: false });
    expect(moves({ state: "running", cancel_requested: false })).toEqual({ cancel: true, retry: false });
    expect(moves({ state: "running", cancel_requested: true })).toEqual({ cancel: false, retry: false });
    expect(moves({ state: "succeeded", cancel_requested: false })).toEqual({ cancel: false, retry: false });
    expect(moves({ state: "failed", cancel_requested: false })).toEqual({ cancel: false, retry: true });
    expect(moves({ state: "cancelled", cancel_requested: true })).toEqual({ cancel: false, retry: true });
  });

  it("shows attempts with their limit", () => {
    expect(attemptsText({ attempts: 2, max_attempts: 5 })).toBe("2 of 5");
  });
});
