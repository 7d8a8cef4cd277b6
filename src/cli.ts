#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createRapport, openRapport } from './app.js';
import { loadConfig, type Role } from './platform/config.js';
import { setupWorkspace } from './workflows/setup-workspace.js';
import { DEMO_EMAIL, DEMO_PASSWORD } from './demo/workspace.js';
import { loadDemo, type DemoResult } from './demo/load-demo.js';

const USAGE = `Usage: rapport <command> [options]

Commands:
  start [--role api|worker|all]   Serve the APIs and run the pipeline (migrates first)
  setup --workspace NAME --email E --password P [--source NAME] [--json]
                                  Create the workspace, its owner and a first source if absent
  migrate                         Bring the store's schema up to date
  demo [--url http://localhost:8080] [--profiles 2000] [--seed 1] [--email E --password P] [--json]
                                  Load a demo workspace "Demo" into a running Rapport through its public APIs:
                                  profiles with 90 days of visits, logins, orders and merges, contacts,
                                  companies, deals, tasks, tickets, computed traits, a score, audiences and a
                                  (disabled) webhook. A fresh installation is set up as Demo with its owner
                                  (default ${DEMO_EMAIL}); on one already set up, E and P sign in an owner of
                                  a workspace named Demo. Running it again adds nothing.

Environment: PORT (8080), RAPPORT_DATA_DIR (./data), DATABASE_URL (postgres://… for PostgreSQL),
LOG_LEVEL (info), RAPPORT_WRITE_KEY_RATE_LIMIT (events/s per write key, 0 = none),
RAPPORT_MAX_PENDING_EVENTS (100000), RAPPORT_SESSION_IDLE_MINUTES (30), RAPPORT_SESSION_MAX_HOURS (12),
RAPPORT_LOGIN_FAILURES_PER_EMAIL (5), RAPPORT_LOGIN_FAILURES_PER_IP (50), RAPPORT_LOGIN_WINDOW_MINUTES (15),
RAPPORT_NODE_HEARTBEAT_MS (1000), RAPPORT_NODE_TTL_MS (5000: a worker silent this long hands its share over).

Passwords need 12+ characters, not a common one, not containing the email's name.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  switch (command) {
    case 'start': {
      const { values } = parseArgs({ args: rest, options: { role: { type: 'string', default: 'all' } } });
      if (!['api', 'worker', 'all'].includes(values.role!)) throw new Error('--role must be api, worker or all');
      const rapport = await createRapport({ ...config, role: values.role as Role });
      await rapport.app.listen({ port: config.port, host: config.host });
      rapport.core.log.info({ port: config.port, store: rapport.database.engine, dataDir: config.databaseUrl ? undefined : config.dataDir }, 'Rapport is ready');
      const stop = (signal: string) => {
        rapport.core.log.info({ signal }, 'shutting down');
        rapport.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return -1;
    }
    case 'setup': {
      const { values } = parseArgs({
        args: rest,
        options: { workspace: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' }, source: { type: 'string' }, json: { type: 'boolean', default: false } },
      });
      if (!values.workspace || !values.email || !values.password) {
        process.stderr.write('setup needs --workspace, --email and --password\n');
        return 2;
      }
      const core = await openRapport({ ...config, logLevel: 'warn' });
      try {
        const audit = { record: core.audit.recordRequest, actor: { type: 'system', id: 'cli:setup' } };
        const result = await setupWorkspace({ access: core.access.service, collect: core.collect.service, audit }, {
          workspace: values.workspace, email: values.email, password: values.password, sourceName: values.source,
        });
        if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
        else {
          process.stdout.write(`Workspace ${values.workspace} (${result.workspaceId})${result.workspaceCreated ? ' created' : ' already existed'}\n`);
          process.stdout.write(`Owner:     ${result.ownerEmail}\nWrite key: ${result.writeKey}   (public: ingest only)\nAPI key:   ${result.apiKey}   (secret: shown once)\n`);
        }
      } finally {
        await core.database.close();
      }
      return 0;
    }
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: {
          url: { type: 'string', default: `http://localhost:${config.port}` }, profiles: { type: 'string', default: '2000' }, seed: { type: 'string', default: '1' },
          email: { type: 'string', default: DEMO_EMAIL }, password: { type: 'string', default: DEMO_PASSWORD }, json: { type: 'boolean', default: false },
        },
      });
      const profiles = Number(values.profiles);
      const seed = Number(values.seed);
      if (!Number.isInteger(profiles) || profiles < 1 || profiles > 100_000) throw new Error('--profiles must be a whole number from 1 to 100000');
      if (!Number.isInteger(seed)) throw new Error('--seed must be a whole number');
      const result = await loadDemo({
        url: values.url!, profiles, seed, email: values.email!, password: values.password!,
        progress: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(values.json ? JSON.stringify(result) + '\n' : demoSummary(result));
      return 0;
    }
    case 'migrate': {
      const core = await openRapport({ ...config, logLevel: 'warn' });
      await core.database.close();
      process.stdout.write(`Schema is up to date (${core.database.engine}).\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE + '\n');
      return command ? 0 : 2;
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
      return 2;
  }
}

function demoSummary(r: DemoResult): string {
  const audiences = Object.entries(r.audiences).map(([key, size]) => `${key} ${size}`).join(', ');
  return [
    r.loaded ? `Demo loaded in ${r.seconds} s: ${r.events.toLocaleString('en')} events, ${r.contacts} contacts, ${r.companies} companies, ${r.deals} deals, ${r.tasks} tasks, ${r.tickets} tickets, ${r.activities} activities.` : `The Demo workspace was already loaded (${r.contacts} contacts, ${r.companies} companies, ${r.deals} deals).`,
    `Audiences: ${audiences || 'none'}${r.pipelineLag > 0 ? ` (the pipeline is still ${r.pipelineLag} events behind: sizes will grow)` : ''}.`,
    '',
    `Open ${r.url} and sign in:`,
    `  email     ${r.email}`,
    `  password  ${r.password}`,
    '',
    `Write key: ${r.writeKey}   (public: ingest only, for /v1)`,
    'API key:   printed with --json (each run makes a fresh one for /api/v1 and revokes the last run\'s)',
    '',
  ].join('\n');
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: Error & { code?: string }) => {
    process.stderr.write(`rapport: ${error.message}\n`);
    process.exit(1);
  },
);
