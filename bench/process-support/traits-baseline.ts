import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';

/**
 * Child process: the floor under the Profile API's traits lookup. A bare node:http server that checks the
 * Basic key against one string, runs the two raw SELECTs the lookup needs (identifier -> profile, the
 * profile's trait rows) as prepared statements, and answers Segment's JSON. No framework, no auth store,
 * no merged-profile hop. Same store and port protocol as serve.ts (prints `ready <port>`).
 */
const KEY = process.env.BENCH_API_KEY!;
const expected = `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`;
const ROUTE = /^\/v1\/spaces\/([^/]+)\/collections\/users\/profiles\/user_id:([^/?]+)\/traits/;

type Lookup = (workspaceId: string, key: string) => Promise<{ name: string; value: string }[] | null>;
let lookup: Lookup;
if (process.env.DATABASE_URL) {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  lookup = async (workspaceId, key) => {
    const hit = await pool.query({ name: 'id', text: 'select profile_id from identifiers where workspace_id = $1 and key = $2', values: [workspaceId, key] });
    if (hit.rowCount === 0) return null;
    return (await pool.query({ name: 'traits', text: 'select name, value from profile_traits where profile_id = $1 order by name', values: [hit.rows[0].profile_id] })).rows;
  };
} else {
  const db = new BetterSqlite3(join(process.env.RAPPORT_DATA_DIR!, 'rapport.db'), { readonly: true });
  const id = db.prepare('select profile_id from identifiers where workspace_id = ? and key = ?');
  const traits = db.prepare('select name, value from profile_traits where profile_id = ? order by name');
  lookup = async (workspaceId, key) => {
    const hit = id.get(workspaceId, key) as { profile_id: string } | undefined;
    return hit ? (traits.all(hit.profile_id) as { name: string; value: string }[]) : null;
  };
}

const server = createServer((req, res) => {
  const m = ROUTE.exec(req.url ?? '');
  const send = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  if (req.headers.authorization !== expected) return send(401, { error: { code: 'unauthorized' } });
  if (!m) return send(404, { error: { code: 'not_found' } });
  lookup(m[1], `users|user_id:${decodeURIComponent(m[2])}`).then(
    (rows) => {
      if (!rows) return send(404, { error: { code: 'not_found', message: 'Profile was not found.' } });
      const traits: Record<string, unknown> = {};
      for (const r of rows.slice(0, 10)) traits[r.name] = JSON.parse(r.value);
      send(200, { traits, cursor: { url: req.url, has_more: rows.length > 10, next: '' } });
    },
    () => send(500, { error: { code: 'internal' } }),
  );
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${(server.address() as AddressInfo).port}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
