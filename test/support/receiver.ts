import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the receiver does with one request: answer with a status (after a delay), or hang past the sender's timeout. */
export type Behaviour = { status: number; delayMs?: number; headers?: Record<string, string>; body?: string } | { hang: true };

export interface Received {
  at: number;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
  raw: string;
  answered: number | 'hung';
}

/**
 * A real HTTP receiver for destination tests: every request is recorded; what it answers comes from
 * `behave` (by request number), so a test can script failures, timeouts and slow answers.
 */
export interface Receiver {
  url: string;
  requests: Received[];
  behave: (n: number, request: { path: string; body: any }) => Behaviour;
  close(): Promise<void>;
}

export async function startReceiver(behave: Receiver['behave'] = () => ({ status: 200 })): Promise<Receiver> {
  const requests: Received[] = [];
  const hung = new Set<ServerResponse>();
  const receiver: Receiver = { url: '', requests, behave, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const n = requests.length;
      const entry: Received = { at: Date.now(), path: req.url ?? '', headers: req.headers, body, raw, answered: 200 };
      requests.push(entry);
      const b = receiver.behave(n, { path: entry.path, body });
      if ('hang' in b) {
        entry.answered = 'hung';
        hung.add(res);
        return;
      }
      entry.answered = b.status;
      const answer = () => {
        res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers });
        res.end(b.body ?? JSON.stringify({ ok: b.status < 300 }));
      };
      if (b.delayMs) setTimeout(answer, b.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** The messages a receiver accepted (2xx), in arrival order, from batch, single-event and Segment bodies. */
export function acceptedMessages(receiver: Receiver): Record<string, any>[] {
  return receiver.requests
    .filter((r) => typeof r.answered === 'number' && r.answered >= 200 && r.answered < 300)
    .flatMap((r) => (Array.isArray(r.body?.batch) ? r.body.batch : r.body ? [r.body] : []));
}
