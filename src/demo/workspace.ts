import { DemoApiError, managementClient, publicCall, type ManagementClient } from './client.js';

export const DEMO_WORKSPACE = 'Demo';
export const DEMO_EMAIL = 'owner@demo.rapport.test';
/** A demo's password: printed at the end, so anyone at the terminal can sign in to the web app. */
export const DEMO_PASSWORD = 'see every customer at once';
const KEY_NAME = 'rapport demo';

export interface DemoWorkspace {
  workspaceId: string;
  /** True when this run made the installation's first workspace through first-run setup. */
  created: boolean;
  ownerId: string;
  email: string;
  password: string;
  apiKey: string;
  writeKey: string;
  api: ManagementClient;
}

interface SessionView {
  user: { id: string } | null;
  workspace: { id: string; name: string };
  permissions: string[];
  role: string;
  csrfToken: string;
  workspaces: { id: string; name: string; role: string }[];
}

/**
 * Opens the Demo workspace as its owner. A fresh installation is set up through first-run setup (the
 * workspace Demo and its owner); on one already set up, the owner signs in and the session moves to the
 * workspace named Demo. The public API makes a workspace only at first run, so when there is no Demo
 * workspace this refuses and says how to make one. Then a fresh API key (the previous demo keys revoked)
 * does the loading, and the workspace's first source gives the write key.
 */
export async function openDemoWorkspace(baseUrl: string, login: { email: string; password: string }, progress: (line: string) => void): Promise<DemoWorkspace> {
  const health = await fetch(`${baseUrl}/healthz`).catch((error: Error) => {
    throw new Error(`No Rapport answers at ${baseUrl} (${error.cause instanceof Error ? error.cause.message : error.message}): start one with \`npm start\`, or pass --url.`);
  });
  if (!health.ok) throw new Error(`${baseUrl}/healthz answered ${health.status}: is it a Rapport that is ready?`);

  const setup = await publicCall(baseUrl, 'GET', '/setup');
  let signedIn: { status: number; body: any; session?: string };
  let created = false;
  if (setup.body?.needed) {
    progress(`Fresh installation: setting up the workspace ${DEMO_WORKSPACE} and its owner ${login.email}`);
    signedIn = await publicCall(baseUrl, 'POST', '/setup', { workspace: DEMO_WORKSPACE, ...login });
    created = signedIn.status === 201;
  } else {
    progress(`Installation already set up: signing in as ${login.email}`);
    signedIn = await publicCall(baseUrl, 'POST', '/auth/login', login);
    if (signedIn.status === 401) {
      throw new Error(`${baseUrl} is already set up and ${login.email} cannot sign in with that password. Pass the owner's --email and --password of its ${DEMO_WORKSPACE} workspace, or run the demo against a fresh Rapport (e.g. RAPPORT_DATA_DIR=./demo-data PORT=8081 npm start, then rapport demo --url http://localhost:8081).`);
    }
  }
  if (!signedIn.session || signedIn.status >= 300) throw new DemoApiError('POST', created ? '/setup' : '/auth/login', signedIn.status, signedIn.body);

  let view = signedIn.body as SessionView;
  let session = signedIn.session;
  const demo = view.workspaces.find((w) => w.name.toLowerCase() === DEMO_WORKSPACE.toLowerCase());
  if (!demo) {
    throw new Error(`${login.email} has no workspace named ${DEMO_WORKSPACE}, and the API creates workspaces only at first run. Create it on the server with \`rapport setup --workspace ${DEMO_WORKSPACE} --email … --password …\` and pass that owner's --email and --password, or run the demo against a fresh Rapport.`);
  }
  if (view.workspace.id !== demo.id) {
    // Sign in to that workspace directly: fetch keeps no cookies, so a switch's new session would be lost.
    await managementClient(baseUrl, { session, csrfToken: view.csrfToken }).call('POST', '/auth/logout');
    const again = await publicCall(baseUrl, 'POST', '/auth/login', { ...login, workspaceId: demo.id });
    if (!again.session || again.status !== 200) throw new DemoApiError('POST', '/auth/login', again.status, again.body);
    view = again.body as SessionView;
    session = again.session;
  }
  if (!view.permissions.includes('api_keys:write')) throw new Error(`${login.email} is ${view.role} in ${DEMO_WORKSPACE}; loading the demo needs an owner or an admin.`);

  const asUser = managementClient(baseUrl, { session, csrfToken: view.csrfToken });
  const keys = (await asUser.call('GET', '/api-keys')).data as { id: string; name: string; revokedAt?: string | null }[];
  for (const old of keys.filter((k) => k.name === KEY_NAME && !k.revokedAt)) await asUser.call('DELETE', `/api-keys/${old.id}`);
  const { key } = await asUser.call('POST', '/api-keys', { name: KEY_NAME, role: view.role });
  await asUser.call('POST', '/auth/logout');

  const api = managementClient(baseUrl, { apiKey: key });
  const sources = (await api.call('GET', '/sources')).data as { name: string; writeKey: string; enabled?: boolean }[];
  const source: { writeKey: string } = sources.find((s) => s.enabled !== false) ?? (await api.call('POST', '/sources', { name: 'Website', type: 'website' }));
  return { workspaceId: demo.id, created, ownerId: view.user!.id, email: login.email, password: login.password, apiKey: key, writeKey: source.writeKey, api };
}
