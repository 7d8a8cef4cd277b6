import type { AddressInfo } from 'node:net';
import { createRapport } from '../../src/app.js';
import { loadConfig, type Role } from '../../src/platform/config.js';
import { setupWorkspace } from '../../src/workflows/setup-workspace.js';
import { serveBench } from '../support/server-process.js';

// Rapport as `rapport start --role <role>` builds it, on the store the parent created (RAPPORT_DATA_DIR, DATABASE_URL).
const base = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
const role = (process.env.BENCH_ROLE ?? 'api') as Role;
const rapport = await createRapport({ ...base, role, port: 0, host: '127.0.0.1' });
await rapport.app.listen({ port: 0, host: '127.0.0.1' });
const { port } = rapport.app.server.address() as AddressInfo;
const setup = await setupWorkspace(
  { access: rapport.core.access.service, collect: rapport.core.collect.service },
  { workspace: 'Bench', email: 'bench@rapport.test', password: 'correct horse battery staple' },
);

serveBench(
  { port, writeKey: setup.writeKey },
  async () => {
    const row = await rapport.database.db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  },
  () => rapport.close(),
);
