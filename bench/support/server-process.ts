import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** What a server under test reports once it listens. */
export interface ServerReady {
  port: number;
  writeKey?: string;
}

/** What the server's main thread did since the last `mark`: event-loop utilisation and CPU time. */
export interface ServerLoad {
  elu: number;
  cpuMs: number;
}

export type ServerMessage =
  | { type: 'ready'; port: number; writeKey?: string }
  | { type: 'marked' }
  | { type: 'count'; rows: number | null; load: ServerLoad };

/**
 * A server under test in a child process of its own, so the load generator never shares its event loop.
 * The child speaks over IPC: `ready` once it listens, `count` (rows in its log) when asked.
 */
export class ServerProcess {
  private constructor(private readonly child: ChildProcess, readonly ready: ServerReady) {}

  static async start(script: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
    const child = fork(fileURLToPath(new URL(`../servers/${script}`, import.meta.url)), [], {
      env: { ...process.env, ...env },
      execArgv: ['--import', 'tsx', ...nodeArgs],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<ServerReady>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
      child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
      child.on('message', (message: ServerMessage) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        resolve({ port: message.port, writeKey: message.writeKey });
      });
    });
    child.removeAllListeners('exit');
    return new ServerProcess(child, ready);
  }

  /** Starts the window that `count` reports the server's load over. */
  async mark(): Promise<void> {
    await this.ask('mark', 'marked');
  }

  /** Rows in the server's event log (null for a server that stores nothing), and its load since `mark`. */
  async count(): Promise<{ rows: number | null; load: ServerLoad }> {
    const reply = await this.ask('count', 'count');
    return reply.type === 'count' ? { rows: reply.rows, load: reply.load } : { rows: null, load: { elu: 0, cpuMs: 0 } };
  }

  private ask(type: string, answer: ServerMessage['type']): Promise<ServerMessage> {
    return new Promise((resolve) => {
      const onMessage = (message: ServerMessage) => {
        if (message.type !== answer) return;
        this.child.off('message', onMessage);
        resolve(message);
      };
      this.child.on('message', onMessage);
      this.child.send({ type });
    });
  }

  /** SIGTERM, so a profiled child writes its profile and Rapport drains its group commit. */
  stop(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.kill('SIGTERM');
    });
  }
}

/** The child's side of the protocol. */
export function serveBench(ready: ServerReady, count: () => Promise<number | null>, stop: () => Promise<void>): void {
  let since = { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage() };
  process.send!({ type: 'ready', ...ready } satisfies ServerMessage);
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'mark') {
      since = { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage() };
      process.send!({ type: 'marked' } satisfies ServerMessage);
    }
    if (message.type === 'count') {
      const cpu = process.cpuUsage(since.cpu);
      const load = { elu: performance.eventLoopUtilization(since.elu).utilization, cpuMs: (cpu.user + cpu.system) / 1000 };
      void count().then((rows) => process.send!({ type: 'count', rows, load } satisfies ServerMessage));
    }
  });
  process.once('SIGTERM', () => {
    stop().then(() => process.exit(0), (error) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    });
  });
}
