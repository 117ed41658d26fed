import { describe, expect, it } from "vitest";
import { formatDuration, formatNumber, relativeTime, runDuration } from "./format";

describe("durations", () => {
  it("reads at every scale", () => {
    expect(formatDuration(850)).toBe("850ms");
    expect(formatDuration(4_250)).toBe("4.3s");
    expect(formatDuration(42_100)).toBe("42s");
    expect(formatDuration(185_000)).toBe("3m 05s");
    expect(formatDuration(2 * 3600_000 + 14 * 60_000)).toBe("2h 14m");
    expect(formatDuration(3 * 86400_000 + 4 * 3600_000)).toBe("3d 4h");
    expect(formatDuration(null)).toBe("");
    expect(formatDuration(-5)).toBe("");
  });
  it("runs: end - start, or until now while running", () => {
    expect(runDuration(1000, 4000, "FINISHED")).toBe(3000);
    expect(runDuration(1000, undefined, "RUNNING", 6000)).toBe(5000);
    expect(runDuration(1000, undefined, "FAILED", 6000)).toBeNull();
    expect(runDuration(undefined, 5, "FINISHED")).toBeNull();
  });
});

describe("times and numbers", () => {
  it("relative times", () => {
    const now = 10_000_000_000;
    expect(relativeTime(now - 10_000, now)).toBe("just now");
    expect(relativeTime(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(relativeTime(now - 3 * 3600_000, now)).toBe("3 h ago");
    expect(relativeTime(now - 86400_000, now)).toBe("1 day ago");
    expect(relativeTime(undefined, now)).toBe("");
  });
  it("numbers", () => {
    expect(formatNumber(0.123456789)).toBe("0.123457");
    expect(formatNumber(42)).toBe("42");
    expect(formatNumber(1.5e-7)).toBe("1.5000e-7");
    expect(formatNumber("NaN")).toBe("NaN");
  });
});

describe("counts", async () => {
  const { formatCount, byCodePoint } = await import("./format");
  it("groups thousands", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(999)).toBe("999");
    expect(formatCount(1234)).toBe("1,234");
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount(-10000)).toBe("-10,000");
  });
  it("sorts by code point", () => {
    expect(["b", "B", "a", "_x"].sort(byCodePoint)).toEqual(["B", "_x", "a", "b"]);
  });
});
