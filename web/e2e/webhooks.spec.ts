// The Webhooks page against its own live server (access control off, 127.0.0.1 allowed as a
// target) and a loopback receiver that verifies MLflow's signature: create a hook with the
// event checkboxes, send a test event (delivered, signed), a failing receiver's test shows its
// status and answer, redeliver, disable; an unsafe URL is refused naming `url`.
import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import { test, expect } from "./fixtures";
import { startCairn, stopCairn, type Running } from "./server";
import { setTheme, shot } from "./shots";

const SECRET = "the e2e receiver's shared secret";
let server: Running;
let receiver: Server;
let receiverUrl = "";
const received: { verified: boolean; body: { entity: string; action: string } }[] = [];
let failNext = 0;

function verified(headers: Record<string, string | string[] | undefined>, raw: string): boolean {
  const id = String(headers["x-mlflow-delivery-id"] ?? "");
  const ts = String(headers["x-mlflow-timestamp"] ?? "");
  const sig = String(headers["x-mlflow-signature"] ?? "");
  if (!sig.startsWith("v1,") || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  return createHmac("sha256", SECRET).update(`${id}.${ts}.${raw}`).digest("base64") === sig.slice(3);
}

test.use({ allowHttpErrors: [400] });

test.beforeAll(async () => {
  server = await startCairn({ env: { CAIRN_WEBHOOK_ALLOW_HOSTS: "127.0.0.1" } });
  receiver = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString("utf8")));
    req.on("end", () => {
      received.push({ verified: verified(req.headers, raw), body: JSON.parse(raw) });
      if (failNext > 0) {
        failNext -= 1;
        res.writeHead(503, { "Content-Type": "text/plain" }).end("receiver is down for maintenance");
      } else {
        res.writeHead(200, { "Content-Type": "text/plain" }).end("thanks");
      }
    });
  });
  await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", ok));
  const addr = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/hooks/cairn`;
});

test.afterAll(async () => {
  if (server) await stopCairn(server);
  await new Promise<void>((ok) => receiver?.close(() => ok()));
});

test("create a webhook, test it, read the delivery log, redeliver, disable", async ({ page }) => {
  await page.goto(`${server.url}/webhooks`);
  await expect(page.getByTestId("webhooks-empty")).toBeVisible();
  await page.getByTestId("webhook-new").click();
  const form = page.getByTestId("webhook-form");
  await expect(form.getByTestId("webhook-create")).toBeDisabled();
  await form.getByTestId("webhook-name").fill("deploy-on-champion");
  // an unsafe target is refused by the server, naming the field
  await form.getByTestId("webhook-url").fill("http://169.254.169.254/latest/meta-data/");
  await form.getByTestId("event-model_version_alias.created").check();
  await form.getByTestId("event-model_version.created").check();
  await form.getByTestId("event-run.finished").check();
  await form.getByTestId("webhook-create").click();
  await expect(form.getByRole("alert")).toContainText("'url'");
  await form.getByTestId("webhook-url").fill(receiverUrl);
  await form.getByTestId("webhook-secret").fill(SECRET);
  await form.getByTestId("webhook-description").fill("Tells CI to deploy the champion");
  await setTheme(page, "light");
  await shot(page, "webhooks-create", form);
  await form.getByTestId("webhook-create").click();
  await expect(page.getByTestId("webhook-form")).toHaveCount(0);
  const row = page.getByTestId("webhook-row").filter({ hasText: "deploy-on-champion" });
  await expect(row).toContainText("model_version_alias.created, model_version.created, run.finished");
  await expect(row).toContainText("signed");
  await expect(row.getByTestId("webhook-status")).toHaveText("ACTIVE");

  const detail = page.getByTestId("webhook-detail");
  await detail.getByTestId("webhook-test").click();
  await expect(detail.getByTestId("webhook-test-result")).toContainText("Test delivered: HTTP 200");
  const deliveries = detail.getByTestId("delivery-row");
  await expect(deliveries).toHaveCount(1);
  await expect(deliveries.first()).toHaveAttribute("data-state", "succeeded");
  await expect(deliveries.first().getByTestId("delivery-response")).toHaveText("thanks");
  expect(received).toHaveLength(1);
  expect(received[0].verified).toBe(true);
  expect(received[0].body.entity).toBe("model_version_alias");

  // the receiver fails: the log shows the status and the start of its answer
  failNext = 1;
  await detail.getByTestId("webhook-test").click();
  await expect(detail.getByTestId("webhook-test-result")).toContainText("Test failed: HTTP 503");
  await expect(deliveries).toHaveCount(2);
  const failed = deliveries.first();
  await expect(failed).toHaveAttribute("data-state", "failed");
  await expect(failed.getByTestId("delivery-outcome")).toHaveText("HTTP 503");
  await expect(failed.getByTestId("delivery-response")).toHaveText("receiver is down for maintenance");
  await shot(page, "webhooks", undefined, { fullPage: true });
  // redeliver: pending again (the job engine sends it)
  await failed.getByTestId("delivery-redeliver").click();
  await expect(deliveries.first()).toHaveAttribute("data-state", "pending");
  await expect(deliveries.first().getByTestId("delivery-redeliver")).toHaveCount(0);

  await detail.getByTestId("webhook-toggle").click();
  await expect(row.getByTestId("webhook-status")).toHaveText("DISABLED");
  await detail.getByTestId("webhook-toggle").click();
  await expect(row.getByTestId("webhook-status")).toHaveText("ACTIVE");
  // the secret is never sent back to the browser
  const listed = await (await fetch(`${server.url}/api/v1/webhooks`)).text();
  expect(listed).not.toContain(SECRET);
});
