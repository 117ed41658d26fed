// Signing in, API tokens and the admin pages against a live `cairn server --auth` of its own
// (the shared e2e server runs without access control).
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { test, expect } from "./fixtures";
import { REPO, startCairn, stopCairn, type Running } from "./server";
import { setTheme, shot } from "./shots";

const ADMIN = "admin";
const ADMIN_PW = "admin-password-e2e";
const USER = "dana";
const USER_PW = "dana-password-e2e";
const run = promisify(execFile);

let server: Running;

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`, "Content-Type": "application/json" };
}

/** The stock mlflow 3 client, signed in with `token`, lists the experiments: true when it could. */
async function mlflowWorks(token: string): Promise<boolean> {
  const python = join(REPO, ".venvs", "mlflow3", "bin", "python");
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", MLFLOW_TRACKING_URI: server.url, MLFLOW_TRACKING_TOKEN: token };
  try {
    const { stdout } = await run(python, ["-c", "import mlflow; print([e.name for e in mlflow.search_experiments()])"], { env, timeout: 120_000 });
    return stdout.includes("Default");
  } catch {
    return false;
  }
}

test.use({ allowHttpErrors: [401, 403] });

test.beforeAll(async () => {
  server = await startCairn({ args: ["--auth"], env: { CAIRN_ADMIN_USERNAME: ADMIN, CAIRN_ADMIN_PASSWORD: ADMIN_PW } });
  const made = await fetch(`${server.url}/api/v1/users`, { method: "POST", headers: basic(ADMIN, ADMIN_PW), body: JSON.stringify({ username: USER, password: USER_PW }) });
  expect(made.status).toBe(200);
});

test.afterAll(async () => {
  if (server) await stopCairn(server);
});

async function signIn(page: import("@playwright/test").Page, user: string, password: string, shotName?: string) {
  await expect(page.getByTestId("login-form")).toBeVisible();
  await page.getByTestId("login-username").fill(user);
  await page.getByTestId("login-password").fill(password);
  if (shotName) await shot(page, shotName);
  await page.getByTestId("login-submit").click();
}

test("sign in, go back where one was, create a token, see it once, use it, revoke it", async ({ page }) => {
  await page.goto(`${server.url}/models`);
  await expect(page).toHaveURL(/\/login\?next=%2Fmodels$/);
  await setTheme(page, "light");
  await page.getByTestId("login-username").fill(ADMIN);
  await page.getByTestId("login-password").fill(ADMIN_PW);
  await shot(page, "auth-login");
  await page.getByTestId("login-password").fill("wrong-password-x");
  await page.getByTestId("login-submit").click();
  await expect(page.getByTestId("login-error")).toContainText("Invalid username or password");
  await signIn(page, ADMIN, ADMIN_PW);
  await expect(page).toHaveURL(/\/models$/);

  await page.getByTestId("user-menu").click();
  await expect(page.getByTestId("user-menu")).toContainText(ADMIN);
  await page.getByTestId("menu-tokens").click();
  await expect(page).toHaveURL(/\/settings\/tokens$/);
  await page.getByTestId("token-name").fill("ci-pipeline");
  await page.getByTestId("token-expiry").selectOption({ label: "90 days" });
  await page.getByTestId("token-create").click();
  const secretBox = page.getByTestId("token-secret-box");
  await expect(secretBox).toContainText("It will not be shown again");
  const secret = (await page.getByTestId("token-secret").textContent())!.trim();
  expect(secret.length).toBeGreaterThan(20);
  const row = page.getByTestId("token-row").filter({ hasText: "ci-pipeline" });
  await expect(row).toHaveAttribute("data-state", "active");
  await expect(row).toContainText(secret.slice(0, 12));
  await shot(page, "auth-tokens");

  expect(await mlflowWorks(secret)).toBe(true);

  await page.getByTestId("token-secret-done").click();
  await expect(secretBox).toHaveCount(0);
  await page.reload();
  await expect(row).toBeVisible();
  await expect(page.getByText(secret)).toHaveCount(0); // shown once, never again
  await row.getByTestId("token-revoke").click();
  await expect(row).toHaveAttribute("data-state", "revoked");
  expect(await mlflowWorks(secret)).toBe(false);

  // admin pages: create a user from the UI
  await page.getByTestId("user-menu").click();
  await page.getByTestId("menu-users").click();
  await page.getByTestId("user-name").fill("erin");
  await page.getByTestId("user-password").fill("erin-password-e2e");
  await page.getByTestId("user-create").click();
  const erin = page.locator('[data-testid="user-row"][data-user="erin"]');
  await expect(erin).toContainText("active");
  await erin.getByTestId("user-toggle-admin").click();
  await expect(erin).toContainText("admin");
  await expect(page.locator(`[data-testid="user-row"][data-user="${ADMIN}"]`).getByTestId("user-delete")).toBeDisabled();
  await shot(page, "auth-users");

  await page.getByTestId("user-menu").click();
  await page.getByTestId("menu-sign-out").click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto(`${server.url}/settings/tokens`);
  await expect(page).toHaveURL(/\/login\?next=%2Fsettings%2Ftokens$/);
});

test("a user who is not an admin sees no admin pages, and a 403 is a message", async ({ page }) => {
  const made = await fetch(`${server.url}/api/2.0/mlflow/experiments/create`, { method: "POST", headers: basic(ADMIN, ADMIN_PW), body: JSON.stringify({ name: "admins-only-managed" }) });
  const { experiment_id: eid } = (await made.json()) as { experiment_id: string };
  await page.goto(`${server.url}/login`);
  await signIn(page, USER, USER_PW);
  await expect(page).toHaveURL(`${server.url}/`);
  await page.getByTestId("user-menu").click();
  await expect(page.getByTestId("menu-tokens")).toBeVisible();
  await expect(page.getByTestId("menu-users")).toHaveCount(0);
  await expect(page.getByTestId("menu-roles")).toHaveCount(0);
  await expect(page.getByTestId("nav-jobs")).toHaveCount(0); // the Jobs page is for admins
  await page.goto(`${server.url}/admin/users`);
  await expect(page.getByTestId("admins-only")).toContainText("Only admins");
  // dana reads the experiment (the default READ) but does not manage it: the panel says why
  await page.goto(`${server.url}/experiments/${eid}`);
  await page.getByTestId("permissions-toggle").click();
  await expect(page.getByTestId("permissions-blocked")).toContainText("You need MANAGE on this experiment");
  await expect(page.getByTestId("grant-add")).toBeDisabled();
});
