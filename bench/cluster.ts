import { parseArgs } from 'node:util';
import { generatePopulation } from '../test/identity/population.js';
import { freePort, setupWithCli, startServerProcess, type ServerProcess } from '../test/support/cli.js';
import { createStore, type BenchStore } from './support/stores.js';
import { basicAuth, metric } from '../test/collect/requests.js';

/**
 * One node against two API nodes and two workers, all `rapport start --role …` processes on one PostgreSQL,
 * on the same calls (a generated population per workspace: logins merging devices, tracks, traits).
 *   ingest:  the calls posted in batches by `--clients` concurrent clients spread over the API nodes, workers
 *            stopped: accepted calls per second.
 *   process: the workers started on that backlog: calls applied per second from when every worker answers
 *            (start-up excluded: what was left then) until the lag is 0.
 * Both topologies run in the same invocation, one after the other, each on a fresh database.
 *
 *   npm run bench:cluster -- [--workspaces 8] [--people 1200] [--clients 8] [--batch 100]
 */
const { values: flags } = parseArgs({
  options: {
    workspaces: { type: 'string', default: '8' },
    people: { type: 'string', default: '1200' },
    clients: { type: 'string', default: '8' },
    batch: { type: 'string', default: '100' },
  },
});
const WORKSPACES = Number(flags.workspaces);
const CLIENTS = Number(flags.clients);
const BATCH = Number(flags.batch);
const populations = Array.from({ length: WORKSPACES }, (_, w) => generatePopulation({ people: Number(flags.people), seed: 31 + w, prefix: `cl${w}` }));
const total = populations.reduce((n, p) => n + p.calls.length, 0);

interface Figures {
  topology: string;
  ingestPerSecond: number;
  processPerSecond: number;
  ingestSeconds: number;
  processSeconds: number;
}

async function run(topology: string, apis: number, workers: number): Promise<Figures> {
  const store: BenchStore = await createStore('postgres');
  const nodes: ServerProcess[] = [];
  const start = async (role: string) => {
    const node = await startServerProcess(store, await freePort(), { args: ['--role', role], env: { LOG_LEVEL: 'warn' } });
    nodes.push(node);
    return node;
  };
  try {
    const keys: string[] = [];
    for (let w = 0; w < WORKSPACES; w++) keys.push((await setupWithCli(store, `Bench ${w}`)).writeKey);
    const api = await Promise.all(Array.from({ length: apis }, () => start('api')));
    // Requests in workspace order within each workspace; the workspaces interleave over the clients.
    const requests = populations.flatMap((p, w) => {
      const calls = p.calls.map((c) => c.message);
      return Array.from({ length: Math.ceil(calls.length / BATCH) }, (_, i) => ({ w, i, body: JSON.stringify({ batch: calls.slice(i * BATCH, (i + 1) * BATCH) }) }));
    }).sort((a, b) => a.i - b.i || a.w - b.w);
    let next = 0;
    let started = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, async (_, client) => {
      while (next < requests.length) {
        const r = requests[next++];
        const res = await fetch(`${api[(client + r.i) % api.length].url}/v1/batch`, {
          method: 'POST',
          headers: { authorization: basicAuth(keys[r.w]), 'content-type': 'application/json' },
          body: r.body,
        });
        if (res.status !== 200) throw new Error(`${topology}: batch answered ${res.status}: ${await res.text()}`);
      }
    }));
    const ingestSeconds = (performance.now() - started) / 1000;

    // Timed from when every worker answers (start-up is not processing): what was left then, until the lag is 0.
    const running = await Promise.all(Array.from({ length: workers }, () => start('worker')));
    started = performance.now();
    const left = await metric(running[0], 'rapport_pipeline_lag_events');
    for (;;) {
      const lag = await metric(running[0], 'rapport_pipeline_lag_events');
      if (lag === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const processSeconds = (performance.now() - started) / 1000;
    return { topology, ingestSeconds, processSeconds, ingestPerSecond: total / ingestSeconds, processPerSecond: left / processSeconds };
  } finally {
    for (const n of nodes) await n.stop();
    await store.drop();
  }
}

process.stderr.write(`${total} calls in ${WORKSPACES} workspaces, ${CLIENTS} clients, ${BATCH} calls per request\n`);
const single = await run('1 node (api, then worker)', 1, 1);
process.stderr.write(`${JSON.stringify(single)}\n`);
const cluster = await run('2 API nodes + 2 workers', 2, 2);
process.stderr.write(`${JSON.stringify(cluster)}\n`);
const row = (f: Figures) => `| ${f.topology} | ${Math.round(f.ingestPerSecond).toLocaleString('en')} | ${Math.round(f.processPerSecond).toLocaleString('en')} |`;
console.log(['| topology | ingest calls/s | processing calls/s (backlog drained) |', '|---|---:|---:|', row(single), row(cluster),
  `| ratio | ${(cluster.ingestPerSecond / single.ingestPerSecond).toFixed(2)} | ${(cluster.processPerSecond / single.processPerSecond).toFixed(2)} |`].join('\n'));
