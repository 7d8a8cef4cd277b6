import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';

const CSV = `E-mail,Full name,Stage,Notes
grace@navy.test,Grace Hopper,customer,first compiler
not-an-email,Nobody,lead,
alan@bletchley.test,Alan Turing,lead,
`;

describe.skipIf(!runBrowserTests)('the web app: importing a CSV', { timeout: BROWSER_TEST_TIMEOUT }, () => {
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

  it('maps the columns, checks every row, imports the good ones with a progress bar, and skips the bad one', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/crm/import');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Import a CSV' }).waitFor();
    await page.locator('input[type="file"]').setInputFiles({ name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
    await page.getByText('4 columns: E-mail, Full name, Stage, Notes').waitFor();
    await page.getByRole('button', { name: 'Map columns', exact: true }).click();

    // The obvious columns are guessed; Stage is mapped by hand; Notes stays out.
    expect(await page.getByRole('combobox', { name: 'Field for E-mail' }).inputValue()).toBe('Email');
    expect(await page.getByRole('combobox', { name: 'Field for Full name' }).inputValue()).toBe('Name');
    expect(await page.getByRole('combobox', { name: 'Field for Notes' }).inputValue()).toBe('');
    await page.getByRole('combobox', { name: 'Field for Stage' }).click();
    await page.getByRole('option', { name: 'Lifecycle stage' }).click();
    await screenshot(page, 'import');
    await page.getByRole('button', { name: 'Check rows', exact: true }).click();

    const results = page.getByLabel('Check results');
    await results.getByText('ready to import').waitFor();
    expect(await results.textContent()).toContain('3 rows2 ready to import1 with problems');
    await page.getByRole('table', { name: 'Problems' }).getByText('email "not-an-email" is not an email address').waitFor();
    // The check wrote nothing.
    expect((await server.call('GET', '/api/v1/crm/contacts')).body.data).toEqual([]);

    await page.getByRole('button', { name: 'Import 2 rows' }).click();
    await page.getByText('Imported 2 of 2 rows.').waitFor();
    expect(await page.getByRole('progressbar', { name: 'Import progress' }).getAttribute('aria-valuenow')).toBe('100');
    const contacts = (await server.call('GET', '/api/v1/crm/contacts')).body.data;
    expect(contacts.map((c: { email: string; name: string; lifecycleStage: string }) => [c.email, c.name, c.lifecycleStage]).sort()).toEqual([
      ['alan@bletchley.test', 'Alan Turing', 'lead'],
      ['grace@navy.test', 'Grace Hopper', 'customer'],
    ]);
    await page.getByRole('link', { name: 'Open Contacts' }).click();
    await page.getByRole('table', { name: 'Contacts' }).getByRole('link', { name: 'Grace Hopper' }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});
