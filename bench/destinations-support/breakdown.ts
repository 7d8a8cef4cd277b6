import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import pg from 'pg';
import type { RapportCore } from '../../src/app.js';
import { destinationsStore } from '../../src/modules/destinations/store.js';

type Fn = (...args: any[]) => Promise<any>;

/**
 * Wall time of the delivery worker's phases, measured from outside src/ by wrapping what a round calls
 * through objects (the outbox store, the service's log reader, global fetch):
 *
 *   lease+list    service.all (the destinations' signature query), the lease, the replays check
 *   sendable      the due rows and the check for keys waiting to be retried (store.sendable)
 *   readEvents    the events by offset from the log, JSON.parse of each payload included (eventLog.at)
 *   http          fetch until the response headers: the receiver's parse of the body is in here
 *   record: …     the outcome's statements (delete delivered rows, the delivery log, …)
 *   not covered   the run's time outside every phase above: building the bodies (buildRequests: withProfile,
 *                 mapping, JSON.stringify; see the profile's inclusive CPU), the record transaction's
 *                 begin/commit and pragma switches, res.text(), metrics, the loop's bookkeeping.
 * Phases may overlap (a worker that reads the next rows while its requests are out): `overlap` is how
 * much the phases' sum exceeds the time they cover together.
 */
export function instrument(core: RapportCore) {
  const spans: [number, number, string][] = [];
  const restore: (() => void)[] = [];
  function wrap<T extends object>(target: T, key: keyof T & string, label: string) {
    const original = target[key] as unknown as Fn;
    if (typeof original !== 'function') return;
    (target as Record<string, unknown>)[key] = async (...args: unknown[]) => {
      const t = performance.now();
      try {
        return await original.apply(target, args);
      } finally {
        spans.push([t, performance.now(), label]);
      }
    };
    restore.push(() => ((target as Record<string, unknown>)[key] = original));
  }
  const store = destinationsStore as unknown as Record<string, Fn>;
  wrap(store, 'sendable', 'sendable');
  wrap(store, 'lease', 'lease+list');
  wrap(store, 'runningReplays', 'lease+list');
  wrap(store, 'deleteRows', 'record: delete delivered rows');
  wrap(store, 'recordAttempts', 'record: insert delivery log');
  wrap(store, 'reschedule', 'record: reschedule');
  wrap(store, 'update', 'record: update destination');
  wrap(store, 'pruneAttempts', 'record: prune delivery log');
  wrap(core.destinations, 'all', 'lease+list');
  wrap(core.destinations.deps, 'readEvents', 'readEvents');
  const fetch = globalThis.fetch;
  globalThis.fetch = async (...args: Parameters<typeof fetch>) => {
    const t = performance.now();
    try {
      return await fetch(...args);
    } finally {
      spans.push([t, performance.now(), 'http']);
    }
  };
  restore.push(() => (globalThis.fetch = fetch));

  // Every statement, by its text (IN lists folded): SQLite's run in the event loop (prepare included, as
  // Kysely prepares each query anew); PostgreSQL's from send to result.
  const statements = new Map<string, { ms: number; n: number }>();
  const fold = (text: string) => text.replace(/\((\s*(\?|\$\d+)\s*,)+\s*(\?|\$\d+)\s*\)/g, '(…)').replace(/\$\d+/g, '?').replace(/\s+/g, ' ').slice(0, 160);
  const addStatement = (text: string, d: number) => {
    const k = fold(text);
    const e = statements.get(k) ?? statements.set(k, { ms: 0, n: 0 }).get(k)!;
    e.ms += d;
    e.n++;
  };
  const sqlite = core.database.sqlite;
  if (sqlite) {
    const prepare = sqlite.prepare;
    (sqlite as { prepare: unknown }).prepare = (source: string) => {
      const t = performance.now();
      const stmt = prepare.call(sqlite, source) as unknown as Record<string, (...a: unknown[]) => unknown>;
      addStatement(`(prepare) ${source}`, performance.now() - t);
      for (const m of ['all', 'run', 'get']) {
        const f = stmt[m];
        stmt[m] = (...a: unknown[]) => {
          const t0 = performance.now();
          try {
            return f.apply(stmt, a);
          } finally {
            addStatement(source, performance.now() - t0);
          }
        };
      }
      return stmt;
    };
    restore.push(() => ((sqlite as { prepare: unknown }).prepare = prepare));
  } else {
    const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
    const query = proto.query;
    proto.query = function (this: unknown, ...a: unknown[]) {
      const text = typeof a[0] === 'string' ? a[0] : String((a[0] as { text?: string })?.text ?? '(cursor)');
      const t = performance.now();
      const r = query.apply(this, a);
      if (r && typeof (r as Promise<unknown>).then === 'function') void (r as Promise<unknown>).then(() => addStatement(text, performance.now() - t), () => undefined);
      return r;
    };
    restore.push(() => (proto.query = query));
  }
  return {
    /** Phases in ms and share of the run's `from`..`to` (performance.now()), with the time no phase covers. */
    report(from: number, to: number) {
      const totalMs = to - from;
      const sums = new Map<string, { ms: number; calls: number }>();
      const inside = spans.filter(([a, b]) => b > from && a < to).map(([a, b, l]) => [Math.max(a, from), Math.min(b, to), l] as [number, number, string]);
      for (const [a, b, l] of inside) {
        const e = sums.get(l) ?? sums.set(l, { ms: 0, calls: 0 }).get(l)!;
        e.ms += b - a;
        e.calls++;
      }
      let covered = 0;
      let reach = from;
      for (const [a, b] of [...inside].sort((x, y) => x[0] - y[0])) {
        if (b <= reach) continue;
        covered += b - Math.max(a, reach);
        reach = b;
      }
      const sum = [...sums.values()].reduce((n, e) => n + e.ms, 0);
      const share = (v: number) => Math.round((v / totalMs) * 1000) / 1000;
      const out: Record<string, { ms: number; share: number; calls?: number }> = {};
      for (const [k, v] of sums) out[k] = { ms: Math.round(v.ms), share: share(v.ms), calls: v.calls };
      out['not covered'] = { ms: Math.round(totalMs - covered), share: share(totalMs - covered) };
      out.overlap = { ms: Math.round(sum - covered), share: share(sum - covered) };
      return out;
    },
    /** The statements that took the most time, with how many ran. */
    statements: (n = 15) => [...statements].sort((a, b) => b[1].ms - a[1].ms).slice(0, n).map(([sql, v]) => ({ sql, ms: Math.round(v.ms), n: v.n })),
    restore: () => restore.reverse().forEach((r) => r()),
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where the CPU time of a code path goes: a sampling profile of this process (node:inspector), summarised. */
export async function cpuProfile<T>(run: () => Promise<T>, file: string): Promise<{ result: T; summary: ReturnType<typeof summarise> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 250 });
  await session.post('Profiler.start');
  let result: T | undefined;
  let failure: unknown;
  try {
    result = await run();
  } catch (error) {
    failure = error;
  }
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
  session.disconnect();
  writeFileSync(file, JSON.stringify(profile));
  if (failure) throw failure;
  return { result: result as T, summary: summarise(profile) };
}

const short = (url: string) => url.replace(/^file:\/\/.*?\/(node_modules|src)\//, '$1/').replace(/^node:/, 'node:');

function category(url: string, fn: string): string {
  if (url.includes('/src/modules/destinations/')) return `src destinations/${url.split('/').pop()}`;
  if (url.includes('/src/')) return `src ${url.split('/src/')[1]}`;
  if (url.includes('node_modules/kysely/dist/esm/dialect/sqlite')) return 'kysely SQLite driver';
  if (url.includes('node_modules/kysely')) return 'kysely (building and compiling queries)';
  if (url.includes('node_modules/better-sqlite3')) return 'better-sqlite3 (JS)';
  if (url.includes('node_modules/pg')) return 'pg driver';
  if (url.includes('node_modules/prom-client')) return 'prom-client';
  if (url.includes('undici')) return 'undici (fetch)';
  if (url.includes('webstreams')) return 'web streams (fetch bodies)';
  if (url.includes('bench/destinations')) return 'bench instrumentation';
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/').slice(0, 2).join('/')}`;
  if (url.includes('node_modules/')) return `node_modules/${url.split('node_modules/')[1].split('/')[0]}`;
  return short(url) || fn;
}

/** Native frames (no url) are charged to what called them: a statement's step to SQLite, a socket write to HTTP. */
function categoryOf(id: number, byId: Map<number, ProfileNode>, parent: Map<number, number>): string {
  const { functionName: fn, url } = byId.get(id)!.callFrame;
  // The statement timer's own frame: V8 charges part of a native statement's work to its JS caller.
  if (url.includes('bench/destinations-support/breakdown') && fn === 'stmt.<computed>') return 'SQLite (native: statements run in the event loop)';
  if (url) return category(url, fn);
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle (waiting for the receiver, timers)';
  if (fn === '(program)') return 'V8/native (program)';
  if (fn === 'parse' || fn === 'stringify') return `JSON.${fn}`;
  // The wrappers of instrument() are transparent: a statement they time is charged as if Kysely ran it.
  let up = parent.get(id);
  while (up !== undefined && byId.get(up)!.callFrame.url.includes('bench/destinations-support/breakdown')) up = parent.get(up);
  if (up === undefined) return `native ${fn}`;
  const above = categoryOf(up, byId, parent);
  if (above === 'kysely SQLite driver' || above === 'better-sqlite3 (JS)' || above.startsWith('SQLite')) return 'SQLite (native: statements run in the event loop)';
  if (above.startsWith('node: net') || above.startsWith('node: internal/stream_base') || above.startsWith('undici')) return 'sockets (native)';
  if (above.startsWith('node: inspector') || above === 'bench instrumentation' || above.startsWith('profiler')) return 'profiler';
  return above.endsWith('(native)') ? above : `${above} (native)`;
}

function summarise(p: Profile) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  const totalMs = (p.endTime - p.startTime) / 1000;
  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  // Inclusive CPU of the delivery worker's own functions (their synchronous stretches and what they call).
  const watched = ['round', 'load', 'buildRequests', 'applyMapping', 'withProfile', 'record', 'sendInOrder', 'sendOne', 'send', 'sendable', 'at', 'toEvent', 'deleteRows', 'recordAttempts', 'executeQuery', 'compileQuery'];
  const inclusive = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const { functionName: fn, url, lineNumber } = n.callFrame;
    const cat = categoryOf(id, byId, parent);
    categories.set(cat, (categories.get(cat) ?? 0) + t);
    const key = `${fn || '(anonymous)'} ${url ? `${short(url)}:${lineNumber + 1}` : ''}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + t);
    const names = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const name = byId.get(x)!.callFrame.functionName;
      if (watched.includes(name)) names.add(name);
    }
    for (const name of names) inclusive.set(name, (inclusive.get(name) ?? 0) + t);
  }
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => ({ what: k, ms: Math.round(v), share: Math.round((v / totalMs) * 1000) / 1000 }));
  return { totalMs: Math.round(totalMs), categories: top(categories, 20), functions: top(functions, 30), inclusive: top(inclusive, watched.length) };
}
