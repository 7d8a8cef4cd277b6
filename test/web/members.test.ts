import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';

describe.skipIf(!runBrowserTests)('the web app: members and invitations', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer(ENGINES[0]);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('invites a sales rep, who opens the link, sets a password and lands in the CRM; a second invitation is revoked', async () => {
    const owner = await openApp(browser, server.url, '/settings/members');
    await signInThroughForm(owner.page);
    await owner.page.getByRole('heading', { name: 'Members' }).waitFor();
    await owner.page.getByLabel('Email').fill('rep@acme.test');
    await owner.page.getByRole('combobox', { name: 'Role' }).click();
    await owner.page.getByRole('option', { name: 'sales' }).click();
    await owner.page.getByRole('button', { name: 'Create invitation' }).click();
    const link = (await owner.page.getByLabel('Invitation link').textContent())!.trim();
    expect(link).toMatch(new RegExp(`^${server.url}/accept-invitation#.+`));
    await owner.page.getByLabel('Pending invitations').getByText('rep@acme.test').waitFor();

    // The rep, in a browser of their own.
    const rep = await openApp(browser, server.url, link.slice(server.url.length));
    await rep.page.getByRole('heading', { name: 'Join your team on Rapport' }).waitFor();
    await rep.page.getByLabel('Your name').fill('Rita Rep');
    await rep.page.getByRole('textbox', { name: 'Password', exact: true }).fill('a long and private passphrase');
    await rep.page.getByRole('button', { name: 'Accept invitation' }).click();
    await rep.page.getByRole('button', { name: 'Sign out' }).waitFor();
    const nav = rep.page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Deals' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Sources' }).count()).toBe(0);
    const session = await rep.page.evaluate(() => fetch('/api/v1/auth/session').then((r) => r.json()));
    expect(session).toMatchObject({ user: { email: 'rep@acme.test', name: 'Rita Rep' }, role: 'sales' });
    // The link worked once.
    const again = await rep.context.request.post(`${server.url}/api/v1/invitations/accept`, { data: { token: link.split('#')[1], password: 'a long and private passphrase' } });
    expect(again.status()).toBeGreaterThanOrEqual(400);
    await rep.context.close();

    await owner.page.reload();
    await owner.page.getByRole('table', { name: 'Members' }).getByText('Rita Rep').waitFor();
    await owner.page.getByLabel('Email').fill('late@acme.test');
    await owner.page.getByRole('button', { name: 'Create invitation' }).click();
    await owner.page.getByRole('button', { name: 'Revoke invitation of late@acme.test' }).click();
    await owner.page.getByLabel('Pending invitations').getByText('late@acme.test').waitFor({ state: 'detached' });
    expect((await server.call('GET', '/api/v1/invitations')).body.data).toEqual([]);
    await screenshot(owner.page, 'members');
    expect(owner.problems).toEqual([]);
    await owner.context.close();
  });
});
