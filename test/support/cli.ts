import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { EngineStore } from './engines.js';
import type { SetupResult } from '../../src/workflows/setup-workspace.js';

/**
 * The `rapport` CLI run as a real child process, as an operator runs it: for tests that need what
 * an in-process server cannot give, such as a `kill -9` in the middle of a write.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli.ts'];

function storeEnv(store: EngineStore, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, RAPPORT_DATA_DIR: store.dataDir, LOG_LEVEL: 'warn', ...extra };
  if (store.databaseUrl) env.DATABASE_URL = store.databaseUrl;
  else delete env.DATABASE_URL;
  return env;
}

export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** `rapport setup --json` against the store. */
export async function setupWithCli(store: EngineStore, workspace = 'Acme'): Promise<SetupResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...CLI, 'setup', '--workspace', workspace, '--email', 'owner@acme.test', '--password', 'correct horse battery staple', '--json'],
    { cwd: ROOT, env: storeEnv(store) },
  );
  return JSON.parse(stdout) as SetupResult;
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** What the process wrote, for failure messages. */
  output(): string;
  /** SIGKILL: no shutdown hook runs, nothing is flushed. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `rapport start [args]` on `port`, resolved once `/healthz` answers 200, or at once with `waitUntilHealthy: false`
 * (for a test that watches the store itself while the process starts).
 */
export async function startServerProcess(store: EngineStore, port: number, options: { args?: string[]; waitUntilHealthy?: boolean; env?: Record<string, string> } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...CLI, 'start', ...(options.args ?? [])], {
    cwd: ROOT,
    env: storeEnv(store, { PORT: String(port), HOST: '127.0.0.1', ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;

  const ending = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  const server: ServerProcess = { url, child, output: () => output, kill9: () => ending('SIGKILL'), stop: () => ending('SIGTERM') };
  if (options.waitUntilHealthy === false) return server;

  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`rapport start exited with ${child.exitCode}:\n${output}`);
    const healthy = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (healthy) return server;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await server.kill9();
  throw new Error(`rapport start did not answer /healthz within 20 s:\n${output}`);
}

/** `rapport <args>` run to its end: exit code and output (a failing command does not throw). */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code: code ?? -1, stdout, stderr };
}
