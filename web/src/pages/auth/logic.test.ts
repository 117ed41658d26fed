import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/http";
import { failureText, loginPath, manageBlocker, passwordProblem, safeNext, tokenState } from "./logic";

describe("safeNext", () => {
  it("keeps a path of this app", () => {
    expect(safeNext("/experiments/3?view=x")).toBe("/experiments/3?view=x");
  });
  it("refuses other origins and the login page itself", () => {
    for (const bad of ["//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "", null, undefined, "/login?next=/x"]) {
      expect(safeNext(bad)).toBe("/");
    }
  });
});

describe("loginPath", () => {
  it("remembers where the user was", () => {
    expect(loginPath("/models/churn", "?tab=1")).toBe("/login?next=%2Fmodels%2Fchurn%3Ftab%3D1");
    expect(safeNext(decodeURIComponent(loginPath("/models/churn", "?tab=1").split("next=")[1]))).toBe("/models/churn?tab=1");
  });
  it("needs no next for the start page or the login page", () => {
    expect(loginPath("/")).toBe("/login");
    expect(loginPath("/login", "?next=%2Fx")).toBe("/login");
  });
});

describe("tokenState", () => {
  it("revoked wins, then expiry", () => {
    expect(tokenState({ revoked_at: 5, expires_at: 1 }, 10)).toBe("revoked");
    expect(tokenState({ revoked_at: null, expires_at: 10 }, 10)).toBe("expired");
    expect(tokenState({ revoked_at: null, expires_at: 11 }, 10)).toBe("active");
    expect(tokenState({ revoked_at: null, expires_at: null }, 10)).toBe("active");
  });
});

describe("failureText", () => {
  it("says what a 403 refused", () => {
    const denied = new ApiError(403, "PERMISSION_DENIED", "Permission denied: MANAGE on experiment 3");
    expect(failureText(denied, "grant access")).toBe("You are not allowed to grant access: Permission denied: MANAGE on experiment 3");
  });
  it("passes other messages through", () => {
    expect(failureText(new ApiError(400, "INVALID_PARAMETER_VALUE", "bad name"))).toBe("bad name");
    expect(failureText(new Error("boom"))).toBe("boom");
    expect(failureText("text")).toBe("text");
  });
});

describe("manageBlocker", () => {
  it("lets managers and admins change permissions", () => {
    expect(manageBlocker("MANAGE", false, "experiment")).toBeNull();
    expect(manageBlocker("READ", true, "experiment")).toBeNull();
  });
  it("gives the reason to everyone else", () => {
    expect(manageBlocker("EDIT", false, "registered model")).toBe("You need MANAGE on this registered model to change who may use it (you have EDIT).");
    expect(manageBlocker(undefined, false, "experiment")).toBe("You need MANAGE on this experiment to change who may use it.");
  });
});

describe("passwordProblem", () => {
  it("wants 12 characters and two equal entries", () => {
    expect(passwordProblem("short", "short")).toMatch(/12 characters/);
    expect(passwordProblem("long-enough-pw", "long-enough-px")).toMatch(/differ/);
    expect(passwordProblem("long-enough-pw", "long-enough-pw")).toBeNull();
  });
});
