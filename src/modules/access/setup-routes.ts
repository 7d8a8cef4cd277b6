import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../../platform/errors.js';
import { sessionCookie, setSessionCookie } from '../../platform/http/session-cookie.js';
import { email, password, sessionView } from './schema.js';
import type { AccessService } from './service.js';
import type { Sessions } from './sessions.js';
import type { UserRow } from './store.js';

export interface FirstOwnerInput {
  workspace: string;
  email: string;
  password: string;
}

/** Creates the workspace, its owner and whatever else a new workspace starts with (its first source). */
export type SetUpFirstOwner = (input: FirstOwnerInput) => Promise<{ workspace: { id: string }; owner: UserRow }>;

/**
 * First-run setup from the web app: whoever reaches a fresh installation first becomes its owner, as with
 * `rapport setup` on the command line. It works only while no workspace and no user exist; after that it
 * answers 409 and does nothing. Setups on one node run one at a time, so two racing browsers cannot both pass.
 */
export async function setupRoutes(app: FastifyInstance, { access, sessions, setUp }: { access: AccessService; sessions: Sessions; setUp: SetUpFirstOwner }) {
  let running: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const next = running.then(work, work);
    running = next.catch(() => undefined);
    return next;
  };

  app.get('/setup', {
    config: { access: 'public' },
    schema: {
      tags: ['auth'], summary: 'Whether the installation still waits for its first owner (first-run setup is open)',
      response: { 200: { type: 'object', properties: { needed: { type: 'boolean' } } } },
    },
  }, async () => ({ needed: !(await access.installed()) }));

  app.post('/setup', {
    config: {
      access: 'public',
      audit: { action: 'workspace.setup', targetType: 'workspace', targetId: (body: { workspace?: { id?: string } }) => body?.workspace?.id },
    },
    schema: {
      tags: ['auth'], summary: 'First-run setup: the first workspace and its owner, signed in (only while none exists; 409 after)',
      description: 'Creates the workspace, its owner (password: at least 12 characters, not a common one) and a first website source, then signs the owner in as POST /auth/login does. Once any workspace or user exists it answers 409 and changes nothing; more people join by invitation.',
      body: {
        type: 'object', required: ['workspace', 'email', 'password'], additionalProperties: false,
        properties: { workspace: { type: 'string', minLength: 1, maxLength: 200 }, email, password },
      },
      response: { 201: sessionView },
    },
  }, async (request: FastifyRequest, reply) => {
    const body = request.body as FirstOwnerInput;
    const started = await oneAtATime(async () => {
      if (await access.installed()) throw errors.conflict('This installation is already set up: sign in, or ask an owner for an invitation.');
      const { workspace, owner } = await setUp(body);
      return sessions.start(owner, workspace.id, 'owner', { ip: request.ip, userAgent: request.headers['user-agent'] }, sessionCookie(request));
    });
    const view = started.session;
    // The new owner is who did this: the audit hook records it in their new workspace.
    request.principal = { workspaceId: view.workspace.id, actor: view.actor, role: view.role, can: (p) => (view.permissions as string[]).includes(p) };
    setSessionCookie(reply, started.secret, started.maxAgeSeconds);
    return reply.status(201).send(view);
  });
}
