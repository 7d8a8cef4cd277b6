import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Child process (forked with IPC): a webhook receiver on its own event loop. RECEIVER_STATUS 200 (default)
 * parses each JSON body (`{ batch: [...] }` or one message), dedupes messageIds in a Set and answers 200;
 * any other status answers that status to everything without looking at the body.
 *
 * Parent → child: { id, cmd: 'reset', expect?: number, track?: boolean } (forget everything; with `expect`,
 * send { type: 'done' } the moment that many unique messageIds have arrived; with `track`, remember each
 * messageId's first arrival time), { id, cmd: 'stats' }, { id, cmd: 'arrivals' }. Child → parent:
 * { type: 'ready', port }, { id, ... } replies, { type: 'done', at, ...stats }.
 * Times are wall-clock milliseconds with sub-millisecond precision (performance.timeOrigin + performance.now()).
 */
const status = Number(process.env.RECEIVER_STATUS ?? 200);
const now = () => performance.timeOrigin + performance.now();

let seen = new Set<string>();
let arrivals: Map<string, number> | undefined;
let expect = 0;
let doneSent = false;
let counters = { requests: 0, events: 0, duplicates: 0, bytes: 0, badBodies: 0, firstAt: 0, lastAt: 0, parseMs: 0 };

const stats = () => ({ ...counters, unique: seen.size, cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000 });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = now();
    counters.requests++;
    if (counters.firstAt === 0) counters.firstAt = at;
    counters.lastAt = at;
    if (status !== 200) {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{"error":"failing on purpose"}');
      return;
    }
    const body = Buffer.concat(chunks);
    counters.bytes += body.length;
    const t = performance.now();
    let list: { messageId?: unknown }[];
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { batch?: unknown };
      list = Array.isArray(parsed.batch) ? (parsed.batch as { messageId?: unknown }[]) : [parsed as { messageId?: unknown }];
    } catch {
      counters.badBodies++;
      res.writeHead(400).end();
      return;
    }
    for (const m of list) {
      counters.events++;
      const id = String(m.messageId);
      if (seen.has(id)) counters.duplicates++;
      else {
        seen.add(id);
        arrivals?.set(id, at);
      }
    }
    counters.parseMs += performance.now() - t;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
    if (expect > 0 && !doneSent && seen.size >= expect) {
      doneSent = true;
      process.send!({ type: 'done', at, ...stats() });
    }
  });
});
server.keepAliveTimeout = 60_000;

process.on('message', (m: { id: number; cmd: string; expect?: number; track?: boolean }) => {
  if (m.cmd === 'reset') {
    seen = new Set();
    arrivals = m.track ? new Map() : undefined;
    expect = m.expect ?? 0;
    doneSent = false;
    counters = { requests: 0, events: 0, duplicates: 0, bytes: 0, badBodies: 0, firstAt: 0, lastAt: 0, parseMs: 0 };
    process.send!({ id: m.id });
  } else if (m.cmd === 'stats') {
    process.send!({ id: m.id, ...stats() });
  } else if (m.cmd === 'arrivals') {
    const entries = [...(arrivals ?? new Map<string, number>()).entries()];
    process.send!({ id: m.id, ids: entries.map((e) => e[0]), at: entries.map((e) => e[1]) });
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => process.send!({ type: 'ready', port: (server.address() as AddressInfo).port }));
