import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Runs a bench script in a child process of its own and returns the JSON line it prints last. */
export async function runJson<T>(file: string, args: string[], env: Record<string, string>, nodeArgs: string[] = []): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, here(file), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${file} exited with ${code}`);
  const last = out.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

/** A server in a child process: resolves once it prints `ready <port>`. */
export class Child {
  private constructor(readonly process: ChildProcess, readonly port: number) {}

  static async start(file: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<Child> {
    const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, here(file)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file} did not start within 60 s`)), 60_000);
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk;
        const m = /ready (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before it was ready`)));
    });
    child.removeAllListeners('exit');
    return new Child(child, port);
  }

  /** SIGTERM (a profiled child writes its profile, Rapport lets its batch commit); SIGKILL after 30 s. */
  stop(): Promise<void> {
    if (this.process.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.process.kill('SIGKILL'), 30_000);
      this.process.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.process.kill('SIGTERM');
    });
  }
}
