import { parseArgs } from 'node:util';
import pg from 'pg';
import { openRapport } from '../../src/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { percentiles } from './machine.js';
import { prng } from './calls.js';
import { userIdOf } from './profiles-fill.js';

/**
 * Child process: the traits lookup without HTTP, one at a time, on random users of `--profiles`:
 *   raw      the two SELECTs as prepared statements on the engine's driver (the floor)
 *   service  what the route runs: directory.byIdentifier (with the merged-profile hop) and profiles.traits, through Kysely
 * Prints one JSON line of latency percentiles in ms.
 */
const { values: flags } = parseArgs({ options: { profiles: { type: 'string' }, workspace: { type: 'string' }, lookups: { type: 'string', default: '20000' } } });
const count = Number(flags.profiles);
const workspaceId = flags.workspace!;
const lookups = Number(flags.lookups);
const core = await openRapport({ ...loadConfig(), logLevel: 'warn' });
const { database } = core;

let raw: (userId: string) => Promise<number>;
let closeRaw = async () => {};
if (database.sqlite) {
  const id = database.sqlite.prepare('select profile_id from identifiers where workspace_id = ? and key = ?');
  const traits = database.sqlite.prepare('select * from profile_traits where profile_id = ? order by name');
  raw = async (userId) => {
    const hit = id.get(workspaceId, `users|user_id:${userId}`) as { profile_id: string };
    return traits.all(hit.profile_id).length;
  };
} else {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  raw = async (userId) => {
    const hit = await client.query({ name: 'id', text: 'select profile_id from identifiers where workspace_id = $1 and key = $2', values: [workspaceId, `users|user_id:${userId}`] });
    return (await client.query({ name: 'traits', text: 'select * from profile_traits where profile_id = $1 order by name', values: [hit.rows[0].profile_id] })).rowCount ?? 0;
  };
  closeRaw = () => client.end();
}
const service = async (userId: string) => {
  const profile = await core.directory.byIdentifier(workspaceId, 'users', { type: 'user_id', value: userId });
  return (await core.profiles.traits(database.db, profile!.id)).length;
};

async function measure(f: (userId: string) => Promise<number>, seed: number) {
  const rng = prng(seed);
  const times: number[] = [];
  for (let i = 0; i < lookups; i++) {
    const userId = userIdOf(rng.int(count));
    const t = performance.now();
    const n = await f(userId);
    times.push(performance.now() - t);
    if (n === 0) throw new Error(`no traits for ${userId}`);
  }
  return percentiles(times);
}

// Warm both paths alike, then alternate halves so neither gets the warmer cache.
await measure(raw, 1);
await measure(service, 2);
const results = { raw: [await measure(raw, 3), await measure(raw, 5)], service: [await measure(service, 4), await measure(service, 6)] };
await closeRaw();
await database.close();
process.stdout.write(JSON.stringify(results) + '\n');
