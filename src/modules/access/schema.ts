import { BUILT_IN_ROLES, PERMISSIONS } from './permissions.js';
import { MAX_PASSWORD_LENGTH } from './password-policy.js';

const nullableString = { type: ['string', 'null'] };

/** Who is calling: GET /auth/session, and the answer to signing in or accepting an invitation. */
export const sessionView = {
  type: 'object',
  properties: {
    actor: { type: 'object', properties: { type: { type: 'string', enum: ['api_key', 'user'] }, id: { type: 'string' } } },
    user: { type: ['object', 'null'], properties: { id: { type: 'string' }, email: { type: 'string' }, name: nullableString } },
    workspace: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } },
    role: { type: 'string' },
    roleName: nullableString,
    permissions: { type: 'array', items: { type: 'string', enum: [...PERMISSIONS] } },
    csrfToken: { ...nullableString, description: 'Send it as the X-CSRF-Token header on every POST, PUT, PATCH and DELETE made with the session cookie.' },
    session: {
      type: ['object', 'null'],
      properties: { createdAt: { type: 'string' }, expiresAt: { type: 'string' }, idleTimeoutSeconds: { type: 'integer' } },
    },
    workspaces: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } } } },
  },
};

export const password = { type: 'string', minLength: 1, maxLength: MAX_PASSWORD_LENGTH };
export const email = { type: 'string', minLength: 3, maxLength: 320 };
export const role = { type: 'string', minLength: 1, maxLength: 100, description: `A built-in role (${BUILT_IN_ROLES.join(', ')}) or a custom role's id (GET /api/v1/roles).` };

export const invitation = {
  type: 'object',
  properties: {
    id: { type: 'string' }, email: { type: 'string' }, role: { type: 'string' }, invitedBy: { type: 'string' },
    createdAt: { type: 'string' }, expiresAt: { type: 'string' },
  },
};

export const member = {
  type: 'object',
  properties: { id: { type: 'string' }, email: { type: 'string' }, name: nullableString, role: { type: 'string' }, roleName: nullableString, joinedAt: { type: 'string' } },
};

export const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } };
