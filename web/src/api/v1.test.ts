import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

// generated/v1.d.ts must be what openapi-typescript makes of openapi-v1.json now (that file is
// checked against the server by tests/unit/test_ui_api_types.py).
describe("generated /api/v1 types", () => {
  it("match openapi-v1.json", () => {
    const web = resolve(import.meta.dirname, "..", "..");
    const run = () => execFileSync(process.execPath, [resolve(web, "scripts/gen-api.mjs"), "--check"], { cwd: web, encoding: "utf8", stdio: "pipe" });
    expect(run).not.toThrow();
  });
});
