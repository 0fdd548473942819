/**
 * The project's fake OpenHands server (``python -m openhands_api.testing serve``), started as a
 * subprocess for a test file and killed at its end.
 *
 * The interpreter is ``$OPENHANDS_API_PYTHON`` (default ``python3``): one that has the Python
 * package's test dependencies (in this repository, ``/work/main/.venv/bin/python`` or any venv
 * with ``pip install -e '.[testing]'``). The repository's ``src/`` goes first on PYTHONPATH, so
 * the fake server of this checkout is the one that runs.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
// build/test/ → typescript/ → the repository root.
const repoSrc = path.resolve(here, "..", "..", "..", "src");

// Servers still running when the test process exits (a crash, a failed before hook) are killed too.
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface FakeServer {
  url: string;
  /** Add a fault rule (``POST /_fake/faults``), e.g. ``{ fault: "rate_limit", path: "/api/*", retry_after: "1" }``. */
  addFault(rule: Record<string, unknown>): Promise<void>;
  /** What the server recorded of the faults: rules with their hit counts. */
  faults(): Promise<{ rules: Array<Record<string, unknown>> }>;
  clearFaults(): Promise<void>;
  state(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startFakeServer(options: { generations: "v0" | "v1" | "both"; args?: string[] }): Promise<FakeServer> {
  const python = process.env.OPENHANDS_API_PYTHON || "python3";
  const env = { ...process.env, PYTHONPATH: [repoSrc, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) };
  const child: ChildProcess = spawn(
    python,
    ["-m", "openhands_api.testing", "serve", "--port", "0", "-q", "--generations", options.generations, ...(options.args ?? [])],
    {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  running.add(child);
  child.once("exit", () => running.delete(child));
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the fake server did not start within 30 s: ${stderr}`)), 30_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(line.trim());
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(`the fake server exited (${code}) before printing its URL: ${stderr} (set OPENHANDS_API_PYTHON to an interpreter with the testing extra)`),
      );
    });
  });
  const control = async (method: string, route: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}/_fake${route}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} /_fake${route}: ${response.status} ${await response.text()}`);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  };
  return {
    url,
    addFault: async (rule) => {
      await control("POST", "/faults", rule);
    },
    faults: async () => (await control("GET", "/faults")) as { rules: Array<Record<string, unknown>> },
    clearFaults: async () => {
      await control("DELETE", "/faults");
    },
    state: async () => (await control("GET", "/state")) as Record<string, unknown>,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
