import { Agent, request } from 'node:http';

export interface Sent {
  /** When the request was due (ms, performance.now()): latency counts from here, so a stalled server's queue shows. */
  due: number;
  /** When it was handed to the socket: up to a timer tick (~1 ms) after `due`. */
  sent: number;
  done: number;
  status: number;
  tag: number;
}

export interface OpenLoopOptions {
  port: number;
  /** Requests per second, paced on a fixed schedule whatever the server answers (open loop). */
  rate: number;
  seconds: number;
  /** Keep-alive sockets the requests spread over. */
  sockets?: number;
  request(i: number): { method: string; path: string; headers?: Record<string, string>; body?: string };
}

/**
 * A fixed-rate load generator: request i is due at start + i / rate, sent then (or as soon as the loop
 * gets to it), and timed from when it was due, so a server stall cannot hide its queueing (no
 * coordinated omission). Timer resolution is ~1 ms; latencies are measured with performance.now().
 */
export async function openLoop(options: OpenLoopOptions): Promise<Sent[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.sockets ?? 64 });
  const total = Math.round(options.rate * options.seconds);
  const results: Sent[] = [];
  const pending = new Set<Promise<void>>();
  const start = performance.now() + 5;
  let i = 0;
  const fire = (n: number, due: number) => {
    const r = options.request(n);
    const sent = performance.now();
    const p = new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: options.port, method: r.method, path: r.path, headers: r.headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          results.push({ due, sent, done: performance.now(), status: res.statusCode ?? 0, tag: n });
          resolve();
        });
      });
      req.on('error', () => {
        results.push({ due, sent, done: performance.now(), status: 0, tag: n });
        resolve();
      });
      req.end(r.body);
    });
    pending.add(p);
    void p.then(() => pending.delete(p));
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (i < total && start + (i * 1000) / options.rate <= now) {
        fire(i, start + (i * 1000) / options.rate);
        i++;
      }
      if (i >= total) return resolve();
      setTimeout(tick, Math.max(0, Math.min(1, start + (i * 1000) / options.rate - performance.now())));
    };
    setTimeout(tick, 5);
  });
  await Promise.all(pending);
  agent.destroy();
  return results.sort((a, b) => a.tag - b.tag);
}
