import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ReceiverStats {
  requests: number;
  events: number;
  unique: number;
  duplicates: number;
  bytes: number;
  badBodies: number;
  /** Wall-clock ms (sub-ms precision) of the first and last request since the last reset. */
  firstAt: number;
  lastAt: number;
  /** Time spent in JSON.parse and the dedupe Set, in ms. */
  parseMs: number;
  /** The receiver process's CPU time since it started, in ms. */
  cpuMs: number;
}

/** A receiver (receiver.ts) in a child process of its own, driven over IPC. */
export class Receiver {
  private nextId = 1;
  private replies = new Map<number, (m: Record<string, unknown>) => void>();
  private onDone?: (m: ReceiverStats & { at: number }) => void;

  private constructor(readonly process: ChildProcess, readonly port: number, readonly status: number) {
    process.on('message', (m: Record<string, unknown>) => {
      if (m.type === 'done') this.onDone?.(m as unknown as ReceiverStats & { at: number });
      else if (typeof m.id === 'number') {
        this.replies.get(m.id)?.(m);
        this.replies.delete(m.id);
      }
    });
  }

  static async start(status = 200): Promise<Receiver> {
    const child = fork(fileURLToPath(new URL('./receiver.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'], env: { ...process.env, RECEIVER_STATUS: String(status) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the receiver did not start within 30 s')), 30_000);
      child.once('message', (m: { type?: string; port?: number }) => {
        clearTimeout(timer);
        if (m.type === 'ready' && m.port) resolve(m.port);
        else reject(new Error(`unexpected first message from the receiver: ${JSON.stringify(m)}`));
      });
      child.once('exit', (code) => reject(new Error(`the receiver exited with ${code}`)));
    });
    child.removeAllListeners('exit');
    return new Receiver(child, port, status);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  get pid(): number {
    return this.process.pid!;
  }

  private call<T>(cmd: string, extra: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve) => {
      this.replies.set(id, resolve as (m: Record<string, unknown>) => void);
      this.process.send({ id, cmd, ...extra });
    });
  }

  /**
   * Forgets every messageId and counter. The returned `done` resolves once `expect` unique messageIds have
   * arrived (with the receiver's time of the request that completed them).
   */
  async reset(options: { expect?: number; track?: boolean } = {}): Promise<{ done: Promise<ReceiverStats & { at: number }> }> {
    const done = new Promise<ReceiverStats & { at: number }>((resolve) => (this.onDone = resolve));
    await this.call('reset', options);
    return { done };
  }

  stats = () => this.call<ReceiverStats>('stats');

  /** messageId -> first arrival (wall-clock ms), when the last reset asked to track them. */
  async arrivals(): Promise<Map<string, number>> {
    const r = await this.call<{ ids: string[]; at: number[] }>('arrivals');
    return new Map(r.ids.map((id, i) => [id, r.at[i]]));
  }

  stop(): Promise<void> {
    if (this.process.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.process.once('exit', () => resolve());
      this.process.kill('SIGTERM');
    });
  }
}
