import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../../platform/errors.js';
import { clearSessionCookie, sessionCookie, setSessionCookie } from '../../platform/http/session-cookie.js';
import type { Members } from './members.js';
import { email, password, sessionView } from './schema.js';
import type { Principal } from './service.js';
import type { Client, Sessions } from './sessions.js';

const clientOf = (request: FastifyRequest): Client => ({ ip: request.ip, userAgent: request.headers['user-agent'], requestId: request.id });

function signedIn(reply: FastifyReply, started: { secret: string; maxAgeSeconds: number; session: unknown }) {
  setSessionCookie(reply, started.secret, started.maxAgeSeconds);
  return started.session;
}

/** The caller's own session; API keys have none to end or password to change. */
function ownSession(request: FastifyRequest): { principal: Principal; secret: string } {
  const principal = request.principal as Principal;
  const secret = sessionCookie(request);
  if (principal.actor.type !== 'user' || !secret) throw errors.invalidRequest('This needs a signed-in user\'s session; API keys are revoked with DELETE /api/v1/api-keys/:id.');
  return { principal, secret };
}

/** Signing in and out, who is signed in, one's own password, and accepting an invitation. */
export async function authRoutes(app: FastifyInstance, { sessions, members }: { sessions: Sessions; members: Members }) {
  app.post('/auth/login', {
    config: { access: 'public' },
    schema: {
      tags: ['auth'], summary: 'Sign in: sets the session cookie and returns the CSRF token for writes',
      description: 'Sets `__Host-rapport_session` (HttpOnly, Secure, SameSite=Lax). Without `workspaceId` the session opens the first workspace the user joined. Wrong email and wrong password get the same 401; 5 failures per email (50 per client address) in 15 minutes get 429 with Retry-After.',
      body: {
        type: 'object', required: ['email', 'password'], additionalProperties: false,
        properties: { email, password, workspaceId: { type: 'string' } },
      },
      response: { 200: sessionView },
    },
  }, async (request, reply) => {
    const body = request.body as { email: string; password: string; workspaceId?: string };
    return signedIn(reply, await sessions.login(body, clientOf(request), sessionCookie(request)));
  });

  app.post('/auth/logout', {
    config: { access: 'signed-in' },
    schema: { tags: ['auth'], summary: 'Sign out: ends the session and clears its cookie (needs X-CSRF-Token)' },
  }, async (request, reply) => {
    const { secret } = ownSession(request);
    await sessions.logout(secret);
    clearSessionCookie(reply);
    return reply.status(204).send();
  });

  app.get('/auth/session', {
    // The caller's own email: not a customer's personal data.
    config: { access: 'signed-in', pii: false },
    schema: { tags: ['auth'], summary: 'Who is calling: user (or API key), workspace, role, permissions and the session\'s CSRF token', response: { 200: sessionView } },
  }, async (request) => sessions.view(request.principal as Principal, sessionCookie(request)));

  app.post('/auth/switch-workspace', {
    config: { access: 'signed-in' },
    schema: {
      tags: ['auth'], summary: 'Move the session to another of the user\'s workspaces: a new session (and CSRF token) there, the old one ends',
      body: { type: 'object', required: ['workspaceId'], additionalProperties: false, properties: { workspaceId: { type: 'string', minLength: 1, maxLength: 100 } } },
      response: { 200: sessionView },
    },
  }, async (request, reply) => {
    const { principal, secret } = ownSession(request);
    const { workspaceId } = request.body as { workspaceId: string };
    return signedIn(reply, await sessions.switchWorkspace(principal.actor.id, workspaceId, clientOf(request), secret));
  });

  app.put('/auth/password', {
    config: { access: 'signed-in' },
    schema: {
      tags: ['auth'], summary: 'Change one\'s own password; every other session of the user ends',
      body: {
        type: 'object', required: ['currentPassword', 'newPassword'], additionalProperties: false,
        properties: { currentPassword: password, newPassword: password },
      },
    },
  }, async (request, reply) => {
    const { principal, secret } = ownSession(request);
    const body = request.body as { currentPassword: string; newPassword: string };
    await sessions.changePassword(principal.actor.id, secret, body.currentPassword, body.newPassword, clientOf(request));
    return reply.status(204).send();
  });

  app.post('/invitations/accept', {
    config: { access: 'public' },
    schema: {
      tags: ['users'], summary: 'Accept an invitation: creates the account (or joins with an existing one) and signs in',
      description: 'A new account takes `password` (at least 12 characters, not a common password, not containing the email\'s name). For an email that already has an account, `password` must be that account\'s password. An invitation works once, within 7 days.',
      body: {
        type: 'object', required: ['token', 'password'], additionalProperties: false,
        properties: { token: { type: 'string', minLength: 1, maxLength: 200 }, password, name: { type: 'string', maxLength: 200 } },
      },
      response: { 201: sessionView },
    },
  }, async (request, reply) => {
    const body = request.body as { token: string; password: string; name?: string };
    reply.status(201);
    return signedIn(reply, await members.accept(body, clientOf(request), sessionCookie(request)));
  });
}
