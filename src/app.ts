import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { accessMigrations, createAccess } from './modules/access/index.js';
import { auditMigrations, createAudit } from './modules/audit/index.js';
import { audienceRoutes, audiencesMigrations, audiencesRelations, createAudiencesService } from './modules/audiences/index.js';
import { collectMigrations, collectRelations, createCollect, eventLog, logErasure } from './modules/collect/index.js';
import { createCrm, crmEventRecord, crmMigrations, crmRoutes, crmWorkRoutes } from './modules/crm/index.js';
import { createDelivery, createDestinationsService, destinationRoutes, destinationsMigrations } from './modules/destinations/index.js';
import { createDirectory, createIdentityService, identityMigrations, identityRelations, identityRoutes, normalizeLookup } from './modules/identity/index.js';
import { createPrivacy, privacyMigrations, type Privacy } from './modules/privacy/index.js';
import { createProfilesService, profileApiRoutes, profileManagementRoutes, profilesMigrations, profilesRelations } from './modules/profiles/index.js';
import { mergeProfiles } from './workflows/merge-profiles.js';
import { splitProfile } from './workflows/split-profile.js';
import { deletePerson } from './workflows/delete-person.js';
import { exportPerson } from './workflows/export-person.js';
import { setupOwner } from './workflows/setup-workspace.js';
import { createPipeline } from './pipeline/processor.js';
import { appliedUpTo } from './pipeline/partitions.js';
import { createNodes } from './pipeline/nodes.js';
import { pipelineMigrations } from './pipeline/migrations/index.js';
import { systemClock, type Clock } from './platform/clock.js';
import type { Config } from './platform/config.js';
import { openDatabase, type Database } from './platform/db/database.js';
import { migrateToLatest } from './platform/db/migrate.js';
import { createHttpServer } from './platform/http/server.js';
import { opsRoutes } from './platform/http/ops-routes.js';
import { webAppRoutes } from './platform/http/web-app.js';
import { createLog, type Log } from './platform/log.js';
import { createMetrics } from './platform/metrics.js';

export const MIGRATIONS = [accessMigrations, collectMigrations, identityMigrations, profilesMigrations, audiencesMigrations, destinationsMigrations, crmMigrations, auditMigrations, privacyMigrations, pipelineMigrations];
const API = '/api/v1';

/** Opens the store, migrates it and builds every module's service, without HTTP (the CLI's setup uses this). */
export async function openRapport(config: Config, deps: { log?: Log; clock?: Clock } = {}) {
  const log = deps.log ?? createLog(config.logLevel);
  const clock = deps.clock ?? systemClock;
  const database = openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  try {
    await migrateToLatest(database.db, MIGRATIONS);
  } catch (error) {
    await database.close();
    throw error;
  }
  const metrics = createMetrics();
  const audit = createAudit({ database, clock, log, metrics });
  const access = createAccess({
    database,
    clock,
    options: config.access,
    keyUsed: (use) => audit.recordRequest({
      workspaceId: use.workspaceId, actor: { type: 'api_key', id: use.keyId }, action: 'api_key.use', target: { type: 'api_key', id: use.keyId },
      change: use.method ? { request: `${use.method} ${use.path}` } : null, requestId: use.requestId, ip: use.ip, userAgent: use.userAgent,
    }),
    // Signing in has no principal yet when the request is answered, so the HTTP hook cannot record it. A failed
    // attempt's actor is the address it came from; the account tried is the target.
    signIns: async ({ outcome, via, userId, workspaceIds, client }) => {
      const succeeded = outcome === 'succeeded';
      for (const workspaceId of workspaceIds) {
        await audit.recordRequest({
          workspaceId, actor: succeeded ? { type: 'user', id: userId } : { type: 'anonymous', id: client.ip },
          action: succeeded ? 'auth.login' : outcome === 'failed' ? 'auth.login_failed' : 'auth.login_throttled', target: { type: 'user', id: userId },
          change: { via }, requestId: client.requestId, ip: client.ip, userAgent: client.userAgent ?? null, status: succeeded ? 200 : outcome === 'failed' ? 401 : 429,
        });
      }
    },
  });
  const collect = createCollect({ database, clock, log, metrics, options: config.collect });
  const identity = createIdentityService({ now: () => clock.now() });
  const profiles = createProfilesService({ now: () => clock.now() });
  const audiences = createAudiencesService(
    {
      engine: database.engine,
      relations: { ...identityRelations, ...profilesRelations, ...collectRelations },
      now: () => clock.now(),
      appendToLog: (db, entries) => eventLog.appendInTransaction(db, entries, database.engine === 'postgres'),
    },
    config.audiences,
  );
  const privacy: Privacy = createPrivacy({
    database, clock, log, metrics,
    record: (db, ...entries) => audit.record(db, ...entries),
    async resolve(db, workspaceId, identifier) {
      const directory = createDirectory(db);
      const p = await directory.byIdentifier(workspaceId, 'users', normalizeLookup(identifier));
      return p ? { profileId: p.id, identifiers: (await directory.identifiers(p.id)).map((i) => ({ type: i.type, value: i.value })) } : null;
    },
    // Late-bound: the workflows compose modules built below.
    erase: (tx, request) => deletePerson({ postgres: database.engine === 'postgres', privacy, crm, destinations, audit: audit.service }, tx, request),
    export: (tx, request) => exportPerson({ profiles, audiences, crm, privacy }, tx, request),
    readByAll: (db) => logErasure.readByAll(db),
    offsetBefore: (db, receivedAt) => eventLog.offsetBefore(db, receivedAt),
    eraseReceivedBefore: (db, workspaceId, before, upTo, limit) => logErasure.eraseReceivedBefore(db, workspaceId, before, upTo, limit),
    options: { retentionEveryMs: config.privacy.retentionEveryMs },
  });
  const destinations = createDestinationsService({
    now: () => clock.now(),
    readEvents: (db, workspaceId, offsets) => eventLog.at(db, workspaceId, offsets),
    readLog: (db, after, limit) => eventLog.read(db, after, limit),
    logOffsetBefore: (db, receivedAt) => eventLog.offsetBefore(db, receivedAt),
    logEnd: (db) => eventLog.end(db),
    async profileOf(db, workspaceId, ids) {
      const directory = createDirectory(db);
      const hit = (ids.userId ? await directory.byIdentifier(workspaceId, 'users', { type: 'user_id', value: ids.userId }) : undefined)
        ?? (ids.anonymousId ? await directory.byIdentifier(workspaceId, 'users', { type: 'anonymous_id', value: ids.anonymousId }) : undefined);
      return hit?.id ?? null;
    },
    memberships: (db, workspaceId, keys, profileIds) => audiences.membershipSets(db, workspaceId, keys, profileIds),
    audience: async (db, workspaceId, key) => {
      const a = await audiences.audience(db, workspaceId, key);
      return a ? { id: a.id, key: a.key, name: a.name } : undefined;
    },
    audienceMembers: (db, audienceId, limit, after) => audiences.members(db, audienceId, limit, after),
    addresses: (db, profileIds) => createDirectory(db).addresses(profileIds),
    consentOf: (db, profileIds) => privacy.consent.of(db, profileIds),
  });
  const delivery = createDelivery({ database, service: destinations, log, metrics, now: () => clock.now(), options: config.delivery });
  const directory = createDirectory(database.db);
  const crm = createCrm({
    now: () => clock.now(),
    postgres: database.engine === 'postgres',
    appendToLog: (db, entries) => eventLog.appendInTransaction(db, entries, database.engine === 'postgres'),
    addresses: (db, profileIds) => createDirectory(db).addresses(profileIds),
    profile: async (db, workspaceId, id) => {
      const p = await createDirectory(db).live(workspaceId, id);
      return p ? { id: p.id, collection: p.collection } : undefined;
    },
    liveIds: (db, ids) => createDirectory(db).liveIds(ids),
    aliases: async (db, profileId) => [profileId, ...(await createDirectory(db).mergeHistory(profileId)).filter((m) => m.kind === 'merged' && m.other_profile_id).map((m) => m.other_profile_id!)],
    relations: { profiles: identityRelations.profiles, identifiers: identityRelations.identifiers, links: identityRelations.links, traits: profilesRelations.traits, ...audiencesRelations },
    byGroupId: async (db, workspaceId, groupId) => (await createDirectory(db).byIdentifier(workspaceId, 'accounts', { type: 'group_id', value: groupId }))?.id,
    byEmails: async (db, workspaceId, emails) => {
      const found = await createDirectory(db).byIdentifiers(workspaceId, 'users', emails.map((e) => normalizeLookup({ type: 'email', value: e })));
      return new Map(emails.map((e) => [e, found.get(`email:${normalizeLookup({ type: 'email', value: e }).value}`)] as const).filter((x): x is [string, string] => x[1] !== undefined));
    },
    byEmail: async (db, workspaceId, email) => (await createDirectory(db).byIdentifier(workspaceId, 'users', normalizeLookup({ type: 'email', value: email })))?.id,
    suppressedEmail: (db, workspaceId, email) => privacy.suppression.holds(db, workspaceId, [normalizeLookup({ type: 'email', value: email })]),
    profileEvents: (db, profileId, before, limit) => profiles.timelineBefore(db, profileId, before, limit),
    eventsAt: (db, workspaceId, offsets) => eventLog.at(db, workspaceId, offsets),
    merges: (db, profileId) => createDirectory(db).mergeHistory(profileId),
    applied: async (db, workspaceId, messageId) => {
      // Callers append the call first, so a call no longer in the log was dropped by the pipeline (a suppressed
      // person) or is past retention: either way the pipeline is past it.
      const offset = await eventLog.offsetOf(db, workspaceId, messageId);
      return offset === undefined || (await appliedUpTo(db, workspaceId)) >= offset;
    },
  });
  const nodes = createNodes({ db: database.db, postgres: database.engine === 'postgres', log, metrics, options: config.nodes });
  const pipeline = createPipeline({ database, identity, profiles, audiences, destinations, crm, privacy, log, metrics, owned: nodes.owned, enqueued: () => delivery.poke() });
  return { log, clock, database, metrics, audit, access, collect, identity, profiles, audiences, destinations, delivery, nodes, pipeline, directory, crm, privacy };
}

export type RapportCore = Awaited<ReturnType<typeof openRapport>>;

export interface Rapport {
  app: FastifyInstance;
  core: RapportCore;
  database: Database;
  close(): Promise<void>;
}

/** The whole server: collection API, management API, OpenAPI docs, health and metrics. */
export async function createRapport(config: Config, deps: { log?: Log; clock?: Clock } = {}): Promise<Rapport> {
  const core = await openRapport(config, deps);
  const { access, collect, database, metrics, log } = core;
  const merge = (input: { workspaceId: string; primaryId: string; duplicateId: string; actor: string }) =>
    mergeProfiles({ database, identity: core.identity, profiles: core.profiles, audiences: core.audiences, crm: core.crm, privacy: core.privacy }, { ...input, now: core.clock.now() });
  const app = createHttpServer({
    log,
    authenticators: {
      bearer: (token, context) => access.service.authenticate(token, context),
      session: (secret) => access.sessions.authenticate(secret),
      writeKey: (key) => collect.service.resolveWriteKey(key),
    },
    audit: { prefix: API, record: (entry) => core.audit.recordRequest(entry) },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Rapport API', version: '1', description: 'Collection API (Segment-compatible, `/v1`) and management API (`/api/v1`).' },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (rk_…): management API.' },
          session: {
            type: 'apiKey', in: 'cookie', name: '__Host-rapport_session',
            description: 'A signed-in user\'s session (POST /api/v1/auth/login); writes also need the X-CSRF-Token header.',
          },
          writeKey: { type: 'http', scheme: 'basic', description: "A source's write key as user, empty password: collection API only." },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const access = (route.config as { access?: unknown } | undefined)?.access;
      const security = access === 'write-key' ? [{ writeKey: [] }] : access === 'signed-in' || (access && typeof access === 'object') ? [{ apiKey: [] }, { session: [] }] : [];
      return { schema: { ...schema, security } as typeof schema, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });
  await app.register(opsRoutes, {
    metrics,
    ready: async () => {
      await sql`select 1`.execute(database.db);
      return true;
    },
  });
  await collect.register(app, { managementPrefix: API, workspace: (id) => access.service.workspace(id) });
  await access.register(app, { managementPrefix: API, setUp: (input) => setupOwner({ access: access.service, collect: collect.service }, input) });
  await core.audit.register(app, { managementPrefix: API });
  // Contacts and companies out of the caller's record visibility, for the modules that show profiles beside the CRM.
  const hidden = async (principal: Parameters<typeof core.access.teams.scopeOf>[0], ids: string[]) => {
    const found = await core.crm.rules.hiddenOf(database.db, await core.access.teams.scopeOf(principal), ids.flatMap((id) => [{ object: 'contact', id }, { object: 'company', id }]));
    return new Set(ids.filter((id) => found.has(`contact:${id}`) || found.has(`company:${id}`)));
  };
  const hiddenEvents = async (principal: Parameters<typeof core.access.teams.scopeOf>[0], events: { sourceId: string; properties: Record<string, unknown> }[]) => {
    const scope = await core.access.teams.scopeOf(principal);
    if (scope.all) return events.map(() => false);
    const records = events.map((e) => crmEventRecord(e.sourceId, e.properties));
    const found = await core.crm.rules.hiddenOf(database.db, scope, records.filter((r) => r !== undefined));
    return records.map((r) => r !== undefined && found.has(`${r.object}:${r.id}`));
  };
  await app.register(profileApiRoutes, {
    db: database.db,
    hidden,
    hiddenEvents,
    directory: core.directory,
    profiles: core.profiles,
    eventsAt: (workspaceId, offsets) => eventLog.at(database.db, workspaceId, offsets),
    classes: {
      computed_trait: (workspaceId, profileId) => core.audiences.valuesOf(database.db, workspaceId, profileId),
      audience: (workspaceId, profileId) => core.audiences.membershipsOf(database.db, workspaceId, profileId),
    },
  });
  await app.register(profileManagementRoutes, {
    prefix: API,
    db: database.db,
    directory: core.directory,
    profiles: core.profiles,
    split: (input) => splitProfile({ database, identity: core.identity, profiles: core.profiles, audiences: core.audiences }, { ...input, now: core.clock.now() }),
    merge: (input) => merge(input),
    hidden,
  });
  await app.register(identityRoutes, { prefix: API, db: database.db, forget: (workspaceId) => core.identity.forgetRules(workspaceId) });
  await app.register(audienceRoutes, { prefix: API, db: database.db, audiences: core.audiences, hidden });
  await app.register(crmRoutes, { prefix: API, db: database.db, deals: core.crm.deals, contacts: core.crm.contacts, companies: core.crm.companies, imports: core.crm.imports, fields: core.crm.fields, merge, scopeOf: (p) => core.access.teams.scopeOf(p), rules: core.crm.rules, now: () => core.clock.now() });
  await app.register(crmWorkRoutes, { prefix: API, db: database.db, activities: core.crm.activities, tasks: core.crm.tasks, tickets: core.crm.tickets, views: core.crm.views, search: core.crm.search, scopeOf: (p) => core.access.teams.scopeOf(p), rules: core.crm.rules, now: () => core.clock.now() });
  await core.privacy.register(app, {
    managementPrefix: API,
    profile: async (workspaceId, id) => {
      const p = await core.directory.live(workspaceId, id);
      return p ? { id: p.id } : undefined;
    },
    withdraw: (db, withdrawals) => core.destinations.withdraw(db, withdrawals),
  });
  await app.register(destinationRoutes, { prefix: API, db: database.db, destinations: core.destinations, changed: () => core.delivery.refresh() });
  await app.register(webAppRoutes, { webDir: config.webDir });
  await app.ready();
  if (config.role !== 'api') {
    await core.nodes.start();
    core.pipeline.start();
    core.delivery.start();
    core.crm.worker.start(database.db, (error) => core.log.error({ err: error }, 'CRM import step failed; retrying'));
    core.privacy.worker.start();
  }

  let closing: Promise<void> | undefined;
  return {
    app,
    core,
    database,
    close() {
      // In-flight requests finish (their events reach the log) before the log writer and store close.
      closing ??= (async () => {
        await app.close();
        await collect.service.close();
        await core.pipeline.stop();
        await core.nodes.stop();
        await core.delivery.stop();
        await core.crm.worker.stop();
        await core.privacy.worker.stop();
        await database.close();
      })();
      return closing;
    },
  };
}
