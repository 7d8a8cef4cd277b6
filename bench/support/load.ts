import autocannon from 'autocannon';
import type { Workload } from './workload.js';

export interface LoadResult {
  seconds: number;
  ok: number;
  failed: number;
  /** Latency percentiles in ms (autocannon's resolution: 1 ms). */
  p50: number;
  p99: number;
}

/** Drives one server with fresh bodies from `workload` on `connections` keep-alive connections. */
export async function drive(port: number, writeKey: string | undefined, workload: Workload, connections: number, seconds: number): Promise<LoadResult> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: workload.path,
        headers: {
          'content-type': 'application/json',
          ...(writeKey ? { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` } : {}),
        },
        setupRequest: (request) => ({ ...request, body: workload.next() }),
      },
    ],
  });
  return {
    seconds: result.duration,
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}
