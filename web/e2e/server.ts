// Start and stop a live `cairn server` for the end-to-end tests and benchmarks.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "..", "..");
const STARTUP_MS = 60_000;
const STOP_MS = 15_000;

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

export interface Running {
  url: string;
  process: ChildProcess;
  home: string;
  log: string;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** Extra server arguments and environment, e.g. `--auth` with the first admin's name and password. */
export interface StartOptions {
  args?: string[];
  env?: Record<string, string>;
}

export async function startCairn(options: StartOptions = {}): Promise<Running> {
  const cairn = join(REPO, ".venv", "bin", "cairn");
  if (!existsSync(cairn)) throw new Error(`${cairn} is missing: run 'make install' first`);
  const home = mkdtempSync(join(tmpdir(), "cairn-e2e-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = join(home, "server.log");
  const out = openSync(log, "a");
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("CAIRN_") && !k.startsWith("MLFLOW_")) env[k] = v;
  }
  env.CAIRN_HOME = home;
  Object.assign(env, options.env ?? {});
  const child = spawn(
    cairn,
    ["server", "--host", "127.0.0.1", "--port", String(port), "--backend-store-uri", `sqlite:///${join(home, "cairn.db")}`, ...(options.args ?? [])],
    { cwd: home, env, stdio: ["ignore", out, out] },
  );
  const deadline = Date.now() + STARTUP_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await healthy(url)) return { url, process: child, home, log };
    await new Promise((r) => setTimeout(r, 200));
  }
  stopProcess(child);
  throw new Error(`cairn server did not start on ${url}:\n${readFileSync(log, "utf8").slice(-4000)}`);
}

/** Stop a process we started, by its PID: SIGTERM, then SIGKILL if it lingers. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = new Promise<"late">((r) => setTimeout(() => r("late"), STOP_MS));
  if ((await Promise.race([exited, timer])) === "late") {
    child.kill("SIGKILL");
    await exited;
  }
}

export async function stopCairn(running: Running): Promise<void> {
  await stopProcess(running.process);
  rmSync(running.home, { recursive: true, force: true });
}
