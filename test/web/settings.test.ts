import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';

const PASSWORD = 'a long and private passphrase';

describe.skipIf(!runBrowserTests)('the web app: settings', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer(ENGINES[0]);
    browser = await launchBrowser();
    await server.rapport.core.access.service.ensureMember(server.setup.workspaceId, 'kim@acme.test', PASSWORD, 'support');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const signedIn = async (path: string) => {
    const app = await openApp(browser, server.url, path);
    await signInThroughForm(app.page);
    return app;
  };

  it('creates a custom role from permission checkboxes and gives it to a member and to an API key, whose secret is shown once', async () => {
    const { context, page, problems } = await signedIn('/settings/members');
    await page.getByRole('heading', { name: 'Members' }).waitFor();
    await page.getByRole('link', { name: 'Roles and permissions' }).click();
    await page.getByRole('heading', { name: 'Roles', exact: true }).waitFor();
    // Built-in roles are shown, read-only.
    await page.getByRole('button', { name: 'View role marketer' }).click();
    expect(await page.getByRole('checkbox', { name: 'destinations:write' }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: 'destinations:write' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Save role' }).count()).toBe(0);

    await page.getByRole('button', { name: 'New role' }).click();
    await page.getByRole('heading', { name: 'New role' }).waitFor();
    await page.getByLabel('Name').fill('Compliance');
    await page.getByLabel('Description').fill('Reads the audit log and privacy requests');
    for (const permission of ['audit:read', 'privacy:read', 'users:read']) await page.getByRole('checkbox', { name: permission }).check();
    await page.getByRole('group', { name: 'privacy' }).getByRole('checkbox', { name: 'privacy:write' }).check();
    await page.getByRole('checkbox', { name: 'privacy:write' }).uncheck();
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.getByRole('table', { name: 'Roles' }).getByText('Compliance').waitFor();
    const role = (await server.call('GET', '/api/v1/roles')).body.data.find((r: { name: string }) => r.name === 'Compliance');
    expect(role).toMatchObject({ builtIn: false, description: 'Reads the audit log and privacy requests' });
    expect([...role.permissions].sort()).toEqual(['audit:read', 'privacy:read', 'users:read']);
    await page.getByRole('heading', { name: 'Edit Compliance' }).waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'roles');

    // A member gets it on the members screen.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click();
    await page.getByRole('combobox', { name: 'Role of kim@acme.test' }).click();
    await page.getByRole('option', { name: 'Compliance' }).click();
    await until('kim holds the custom role', async () => {
      const kim = (await server.call('GET', '/api/v1/users')).body.data.find((m: { email: string }) => m.email === 'kim@acme.test');
      return kim.role === role.id || undefined;
    });

    // An API key gets it on the API keys screen; its secret is shown once and works with the role's permissions only.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByLabel('Name').fill('Compliance export');
    await page.getByRole('combobox', { name: 'Role' }).click();
    await page.getByRole('option', { name: 'Compliance' }).click();
    await page.getByRole('button', { name: 'Create API key' }).click();
    const secret = (await page.getByLabel('API key secret').textContent())!.trim();
    expect(secret.length).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'Copy secret' }).waitFor();
    const keys = page.getByRole('table', { name: 'API keys' });
    const row = keys.getByRole('row').filter({ hasText: 'Compliance export' });
    await row.getByText('Compliance', { exact: true }).waitFor();
    await screenshot(page, 'api-keys');
    expect((await server.call('GET', '/api/v1/audit', undefined, secret)).status).toBe(200);
    expect((await server.call('GET', '/api/v1/destinations', undefined, secret)).status).toBe(403);
    const listed = (await server.call('GET', '/api/v1/api-keys')).body.data.find((k: { name: string }) => k.name === 'Compliance export');
    expect(listed).toMatchObject({ role: role.id, roleName: 'Compliance', revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(secret);

    await page.reload();
    await row.waitFor();
    expect(await page.getByLabel('API key secret').count()).toBe(0);
    await page.getByRole('button', { name: 'Revoke API key Compliance export' }).click();
    await page.getByRole('dialog', { name: 'Revoke this API key?' }).getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('revoked').waitFor();
    expect((await server.call('GET', '/api/v1/audit', undefined, secret)).status).toBe(401);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('groups members into a team and makes contacts and deals visible to their owner\'s teams', async () => {
    const { context, page, problems } = await signedIn('/settings/members');
    await page.getByRole('heading', { name: 'Teams' }).waitFor();
    await page.getByLabel('Team name').fill('Support desk');
    await page.getByRole('combobox', { name: 'Team members' }).click();
    await page.getByRole('option', { name: 'kim@acme.test' }).click();
    await page.keyboard.press('Tab');
    await page.getByRole('button', { name: 'Create team' }).click();
    await page.getByRole('combobox', { name: 'Members of Support desk' }).waitFor();
    const kim = (await server.call('GET', '/api/v1/users')).body.data.find((m: { email: string }) => m.email === 'kim@acme.test');
    expect((await server.call('GET', '/api/v1/teams')).body.data).toMatchObject([{ name: 'Support desk', memberIds: [kim.id] }]);
    await page.getByText('Owner and their teams').click();
    await until('team visibility', async () => (await server.call('GET', '/api/v1/workspace/record-visibility')).body.recordVisibility === 'team' || undefined);
    await page.getByText('Everyone').click();
    await until('visibility for all again', async () => (await server.call('GET', '/api/v1/workspace/record-visibility')).body.recordVisibility === 'all' || undefined);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('changes the email rule\'s limit and blocked values, and the API has them', async () => {
    const { context, page, problems } = await signedIn('/settings/identity-rules');
    await page.getByRole('heading', { name: 'Identity rules' }).waitFor();
    const before = (await server.call('GET', '/api/v1/identity/rules')).body.data.find((r: { type: string }) => r.type === 'email');
    expect(before).toMatchObject({ limit: 5, blocked: [], custom: false });
    await page.getByRole('textbox', { name: 'Limit of email' }).fill('2');
    await page.getByRole('textbox', { name: 'Window in days of email' }).fill('30');
    await page.getByRole('combobox', { name: 'Blocked values of email' }).fill('test@example.com');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Save rule of email' }).click();
    const after = await until('the email rule stored', async () => {
      const rule = (await server.call('GET', '/api/v1/identity/rules')).body.data.find((r: { type: string }) => r.type === 'email');
      return rule.custom ? rule : undefined;
    });
    expect(after).toMatchObject({ priority: 2, limit: 2, windowDays: 30, blocked: ['test@example.com'], custom: true });
    await page.getByRole('button', { name: 'Reset rule of email to default' }).waitFor();

    // A type with no rule of its own gets one.
    await page.getByLabel('Identifier type').fill('crm_id');
    await page.getByRole('textbox', { name: 'Priority', exact: true }).fill('3');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.getByRole('textbox', { name: 'Limit of crm_id' }).waitFor();
    expect((await server.call('GET', '/api/v1/identity/rules')).body.data.find((r: { type: string }) => r.type === 'crm_id')).toMatchObject({ priority: 3, limit: 5, custom: true });
    await screenshot(page, 'identity-rules');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('adds a consent category and files privacy requests, which are listed with their status', async () => {
    const { context, page, problems } = await signedIn('/settings/privacy');
    await page.getByRole('heading', { name: 'Privacy', exact: true }).waitFor();
    await page.getByLabel('Category name').fill('Advertising');
    await page.getByLabel('Category description').fill('Ads and retargeting');
    await page.getByRole('button', { name: 'Add category' }).click();
    await page.getByRole('table', { name: 'Consent categories' }).getByText('Advertising').waitFor();
    expect((await server.call('GET', '/api/v1/privacy/consent-categories')).body.data).toMatchObject([{ name: 'Advertising', description: 'Ads and retargeting' }]);

    await page.getByLabel('Identifier value').fill('ada@example.com');
    await page.getByRole('button', { name: 'File request' }).click();
    const requests = page.getByRole('table', { name: 'Privacy requests' });
    await requests.getByRole('row').filter({ hasText: 'suppress' }).getByText('completed').waitFor();

    // An erasure asks first.
    await page.getByRole('combobox', { name: 'Request' }).click();
    await page.getByRole('option', { name: /^Delete/ }).click();
    await page.getByLabel('Identifier value').fill('nobody@example.com');
    await page.getByRole('button', { name: 'File request' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete this person?' });
    await confirm.getByText('nobody@example.com').waitFor();
    await confirm.getByRole('button', { name: 'Delete the person' }).click();
    await requests.getByRole('row').filter({ hasText: 'delete' }).waitFor();

    const listed = (await server.call('GET', '/api/v1/privacy/requests')).body.data;
    expect(listed.map((r: { type: string; identifier: { type: string } }) => [r.type, r.identifier.type])).toEqual([['delete', 'email'], ['suppress', 'email']]);
    expect(listed[1].status).toBe('completed');
    await screenshot(page, 'privacy');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows who created the role in the audit log, filters it, and links the export', async () => {
    const { context, page, problems } = await signedIn('/settings/audit');
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const log = page.getByRole('table', { name: 'Audit log' });
    const creation = log.getByRole('row').filter({ hasText: 'role.create' });
    await creation.getByText('owner@acme.test').waitFor();
    await creation.getByText('201').waitFor();
    await creation.getByText('role Compliance').waitFor();
    await page.getByLabel('Action').fill('role');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await log.getByRole('row').filter({ hasText: 'api_key.create' }).waitFor({ state: 'detached' });
    const actions = await log.locator('tbody tr td:nth-child(3)').allTextContents();
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.every((a) => a.startsWith('role.'))).toBe(true);
    await page.getByRole('button', { name: 'role.create: show the change' }).click();
    await log.getByText('"Compliance"').waitFor();
    await screenshot(page, 'audit');

    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByRole('status').getByText('The chain holds').waitFor();
    const href = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
    expect(href).toBe('/api/v1/audit/export?action=role&format=csv');
    const exported = await context.request.get(server.url + href);
    expect(exported.status()).toBe(200);
    const lines = (await exported.text()).trim().split('\n');
    expect(lines[0]).toMatch(/^id,seq,at,actorType/);
    expect(lines.slice(1).some((l) => l.includes('role.create'))).toBe(true);
    expect(lines.slice(1).every((l) => l.includes(',role.'))).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });
});
