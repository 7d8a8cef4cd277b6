import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, signInThroughForm } from '../support/web.js';

const PASSWORD = 'a long and private passphrase';

describe.skipIf(!runBrowserTests)('the web app: what each role sees', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer(ENGINES[0]);
    browser = await launchBrowser();
    const access = server.rapport.core.access.service;
    await access.ensureMember(server.setup.workspaceId, 'sam@acme.test', PASSWORD, 'support');
    await access.ensureMember(server.setup.workspaceId, 'mia@acme.test', PASSWORD, 'marketer');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const navigation = async (email: string) => {
    const { context, page } = await openApp(browser, server.url);
    await signInThroughForm(page, { email, password: PASSWORD });
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link').first().waitFor();
    const links = await nav.getByRole('link').allTextContents();
    return { context, page, links };
  };

  it('shows a support agent the contacts, not the sources, deals or audiences', async () => {
    const { context, page, links } = await navigation('sam@acme.test');
    expect(links).toEqual(['Profiles', 'Contacts', 'Companies', 'My tasks', 'Tickets', 'Reports', 'Members']);
    // Signed in at /, they land on the first screen they can read, not on an overview they cannot.
    await page.waitForURL(`${server.url}/profiles`);
    await page.getByRole('heading', { name: 'Profiles' }).waitFor();
    await page.goto(`${server.url}/crm/contacts`);
    await page.getByRole('button', { name: 'New contact' }).waitFor();
    // No crm_settings:write: views can be used, not saved.
    expect(await page.getByRole('button', { name: 'Save view' }).count()).toBe(0);
    // The ticket queue is theirs to work.
    await page.getByRole('link', { name: 'Tickets' }).click();
    await page.getByRole('button', { name: 'New ticket' }).waitFor();
    // A screen reached by address says why it is empty rather than failing silently.
    await page.goto(`${server.url}/sources`);
    await page.getByRole('alert').getByText(/lacks the "sources:read" permission/).waitFor();
    await context.close();
  });

  it('shows a marketer the CDP and a read-only CRM', async () => {
    const { context, page, links } = await navigation('mia@acme.test');
    expect(links).toEqual(['Overview', 'Sources', 'Profiles', 'Computed traits', 'Audiences', 'Destinations', 'Contacts', 'Companies', 'Deals', 'My tasks', 'Tickets', 'Reports', 'Members', 'Identity rules']);
    await page.goto(`${server.url}/crm/contacts`);
    await page.getByRole('heading', { name: 'Contacts' }).waitFor();
    await page.getByRole('table', { name: 'Contacts' }).waitFor();
    expect(await page.getByRole('button', { name: 'New contact' }).count()).toBe(0);
    await page.goto(`${server.url}/crm/deals`);
    await page.getByRole('region', { name: 'Stage Qualification' }).waitFor();
    expect(await page.getByRole('button', { name: 'New deal' }).count()).toBe(0);
    await page.goto(`${server.url}/crm/tickets`);
    await page.getByRole('table', { name: 'Tickets' }).waitFor();
    expect(await page.getByRole('button', { name: 'New ticket' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Audiences' }).click();
    await page.getByRole('link', { name: 'New audience' }).waitFor();
    await context.close();
  });
});
