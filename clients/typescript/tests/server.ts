// Starts a real todoql for a test: the binary that TODOQL_BIN names (scripts/test sets it),
// else the repository's target/debug/todoql, on a fresh SQLite database and a free port.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** This package's folder (the tests run compiled, from dist/tests/). */
export const packageRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");
/** The manifest GraphQL Code Generator wrote for this client. */
export const manifestPath = join(packageRoot, "src/gql/persisted-documents.json");
/** The key tests sign with, so they could forge tokens. */
export const jwtSecret = "typescript-client-test-secret-of-at-least-32-bytes";

export interface Todoql {
  /** `http://127.0.0.1:PORT/graphql`. */
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? done(address.port) : fail(new Error("no port"))));
    });
  });
}

/** Starts todoql with `env` on top of a fresh database; resolves once /healthz answers. */
export async function startTodoql(env: Record<string, string> = {}): Promise<Todoql> {
  const binary = process.env.TODOQL_BIN ?? resolve(packageRoot, "../../target/debug/todoql");
  if (!existsSync(binary)) throw new Error(`no todoql at ${binary}: run \`cargo build --bin todoql\` or set TODOQL_BIN`);
  const dir = mkdtempSync(join(tmpdir(), "todoql-client-"));
  const port = await freePort();
  let log = "";
  const child: ChildProcess = spawn(binary, ["serve"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: `sqlite://${join(dir, "todoql.db")}?mode=rwc`,
      BIND_ADDR: `127.0.0.1:${port}`,
      JWT_SECRET: jwtSecret,
      RUST_LOG: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk) => (log += chunk));
  child.stderr?.on("data", (chunk) => (log += chunk));
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const base = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    if (child.exitCode !== null) throw new Error(`todoql exited (${child.exitCode}):\n${log}`);
    if (tries > 300) {
      await stop();
      throw new Error(`todoql did not answer /healthz:\n${log}`);
    }
    const ready = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (ready) return { url: `${base}/graphql`, stop };
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Waits (bounded) until `check` holds, trying again every 100 ms. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, seconds = 15) {
  for (let i = 0; i < seconds * 10; i++) {
    if (await check()) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A `fetch` that records what each request carried. */
export function recordingFetch() {
  const calls: { method: string; query: boolean; documentId: boolean; hash: boolean; status: number }[] = [];
  const recording: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const method = init?.method ?? "GET";
    const sent: Record<string, unknown> =
      method === "GET" ? Object.fromEntries(url.searchParams) : JSON.parse(String(init?.body ?? "{}"));
    const response = await fetch(input, init);
    calls.push({
      method,
      query: typeof sent.query === "string" && sent.query.length > 0,
      documentId: typeof sent.documentId === "string",
      hash: JSON.stringify(sent.extensions ?? "").includes("sha256Hash"),
      status: response.status,
    });
    return response;
  };
  return { fetch: recording, calls };
}
