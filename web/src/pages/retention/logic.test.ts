import { describe as suite, expect, it } from "vitest";
import { bodyOf, describe, formOf, reportText } from "./logic";

suite("retention form", () => {
  it("makes a body from valid input", () => {
    expect(bodyOf({ days: " 30 ", statuses: ["FAILED"], keepNewest: "", enabled: true })).toEqual({
      body: { older_than_days: 30, statuses: ["FAILED"], keep_newest: 0, enabled: true },
    });
  });
  it("refuses negative, fractional, huge and empty days naming the field", () => {
    for (const days of ["-1", "1.5", "99999999", "", "ten", "1e3"]) {
      const out = bodyOf({ days, statuses: [], keepNewest: "0", enabled: true });
      expect("error" in out && out.error).toMatch(/^Days/);
    }
    const keep = bodyOf({ days: "3", statuses: [], keepNewest: "-2", enabled: true });
    expect("error" in keep && keep.error).toMatch(/^Keep newest/);
  });
  it("starts from the policy, or from 90 days", () => {
    expect(formOf(null).days).toBe("90");
    const p = { name: "experiment:1", experiment_id: "1", older_than_days: 7, statuses: ["KILLED"], keep_newest: 2, enabled: false, updated_at: 0, updated_by: "a" };
    expect(formOf(p)).toEqual({ days: "7", statuses: ["KILLED"], keepNewest: "2", enabled: false });
  });
});

suite("retention words", () => {
  it("describes a policy", () => {
    expect(describe({ older_than_days: 30, statuses: [], keep_newest: 0 })).toBe("Finished runs that ended more than 30 days ago are deleted.");
    expect(describe({ older_than_days: 1, statuses: ["FAILED", "KILLED"], keep_newest: 5 })).toBe(
      "FAILED and KILLED runs that ended more than 1 day ago are deleted, keeping the newest 5.",
    );
  });
  it("summarises a dry run", () => {
    expect(reportText({ deleted_runs: 1, kept_registered: 2, kept_tagged: 0, kept_newest: 3 })).toBe(
      "1 run would be deleted; kept: 2 behind model versions, 0 tagged cairn.keep, 3 among the newest.",
    );
  });
});
