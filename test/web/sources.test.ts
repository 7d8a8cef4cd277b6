import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';

describe.skipIf(!runBrowserTests)('the web app: sources, the install snippet and the live debugger', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: TestServer;
  let browser: Browser;
  let shop: Server;
  let shopHtml = '';

  beforeAll(async () => {
    server = await startServer(ENGINES[0]);
    browser = await launchBrowser();
    // The customer's site, on another origin: it serves whatever snippet the test copies from the app.
    shop = createServer((_request, response) => void response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(shopHtml));
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (shop ? shop.close(resolve) : resolve(undefined)));
    await server?.close();
  });

  it('creates a source, installs its snippet on a site, and watches the calls arrive live; a refused call shows why', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/sources');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Sources' }).waitFor();
    await page.getByRole('link', { name: 'Website' }).waitFor();
    await screenshot(page, 'sources');

    await page.getByRole('button', { name: 'New source' }).click();
    const dialog = page.getByRole('dialog', { name: 'New source' });
    await dialog.getByLabel('Name').fill('Marketing site');
    await dialog.getByRole('button', { name: 'Create source' }).click();
    await page.getByRole('heading', { name: 'Marketing site' }).waitFor();
    const writeKey = (await page.getByLabel('Write key', { exact: true }).textContent())!.trim();
    const created = (await server.call('GET', '/api/v1/sources')).body.data.find((s: { name: string }) => s.name === 'Marketing site');
    expect(created).toMatchObject({ type: 'website', writeKey });
    await page.getByText('live', { exact: true }).waitFor();

    // The snippet exactly as the app shows it, pasted into the shop's page.
    const snippet = (await page.getByLabel('Install snippet').textContent())!;
    expect(snippet).toContain(`analytics.load("${writeKey}")`);
    shopHtml = `<!doctype html><html><head><title>Shop</title>${snippet}
      <script>analytics.identify('user-42', { email: 'grace@shop.test' }); analytics.track('Clicked Buy', { sku: 'B-2' });</script></head><body>Shop</body></html>`;
    const visitor = await context.newPage();
    await visitor.goto(`http://localhost:${(shop.address() as AddressInfo).port}/`);

    const events = page.getByRole('table', { name: 'Events' });
    await events.getByRole('button', { name: 'track: Clicked Buy' }).waitFor();
    await events.getByRole('button', { name: 'identify' }).waitFor();
    await events.getByRole('button', { name: 'page' }).waitFor();
    await events.getByRole('button', { name: 'track: Clicked Buy' }).click();
    await events.getByText('"sku": "B-2"').waitFor();

    // A call the collection API refuses: listed with its reason, and found by the Rejected filter.
    const refused = await fetch(`${server.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ userId: 'user-42', properties: {} }),
    });
    expect(refused.status).toBe(200);
    await events.getByText('missing_event_name').waitFor();
    await page.locator('label').filter({ hasText: /^Rejected$/ }).click();
    await events.getByText('missing_event_name').waitFor();
    expect(await events.getByText('accepted', { exact: true }).count()).toBe(0);
    await page.locator('label').filter({ hasText: /^All$/ }).click();
    await events.getByText('accepted', { exact: true }).first().waitFor();
    await events.scrollIntoViewIfNeeded();
    await screenshot(page, 'source-debugger');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('rotates the write key after a confirmation; the old key stops working', async () => {
    const { context, page, problems } = await openApp(browser, server.url, `/sources/${server.setup.sourceId}`);
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Website' }).waitFor();
    const before = (await page.getByLabel('Write key', { exact: true }).textContent())!.trim();
    await page.getByRole('button', { name: 'Rotate…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate write key' }).click();
    await page.getByText('Write key replaced').waitFor();
    const after = (await page.getByLabel('Write key', { exact: true }).textContent())!.trim();
    expect(after).not.toBe(before);
    const track = (key: string) => fetch(`${server.url}/v1/track`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
      body: JSON.stringify({ userId: 'u', event: 'E' }),
    });
    expect((await track(before)).status).toBe(401);
    expect((await track(after)).status).toBe(200);
    expect(problems).toEqual([]);
    await context.close();
  });
});
