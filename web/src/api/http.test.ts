import { describe, expect, it } from "vitest";
import { withQuery } from "./http";

describe("withQuery", () => {
  it("repeats list keys and drops empty values", () => {
    expect(withQuery("/x", { a: ["1", "2"], b: undefined, c: null, d: 0, e: "é &" })).toBe(
      "/x?a=1&a=2&d=0&e=%C3%A9+%26",
    );
  });
  it("leaves a path without params alone", () => {
    expect(withQuery("/x")).toBe("/x");
    expect(withQuery("/x", {})).toBe("/x");
  });
});
