import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';


describe.skipIf(!runBrowserTests)('the web app: audiences', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer(ENGINES[0]);
    browser = await launchBrowser();
    const res = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${server.setup.writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ batch: [
        { type: 'identify', userId: 'u1', traits: { name: 'Grace Hopper', plan: 'pro' } },
        { type: 'identify', userId: 'u2', traits: { name: 'Alan Turing', plan: 'pro' } },
        { type: 'identify', userId: 'u3', traits: { name: 'Ada Lovelace', plan: 'free' } },
        { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 30 } },
        { type: 'track', userId: 'u3', event: 'Order Completed', properties: { total: 10 } },
      ] }),
    });
    expect(res.status).toBe(200);
    await until('both pro users resolved', async () => (await server.call('GET', '/api/v1/profiles?trait=plan:pro')).body.data?.length === 2);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('builds an audience condition by condition, previews its size and members, and creates it', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/audiences');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Audiences' }).waitFor();
    await page.getByRole('link', { name: 'New audience' }).click();
    await page.getByLabel('Name').fill('Pro buyers');
    expect(await page.getByLabel('Key').inputValue()).toBe('pro_buyers');

    const first = page.getByRole('group', { name: 'Condition 1' });
    await first.getByLabel('Trait').fill('plan');
    await first.getByRole('textbox', { name: 'Value' }).fill('pro');
    const preview = page.getByRole('region', { name: 'Preview' });
    await preview.getByLabel('Estimated size').getByText('2', { exact: true }).waitFor();
    await preview.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    await preview.getByRole('link', { name: 'Alan Turing' }).waitFor();

    await page.getByRole('button', { name: 'Add condition' }).click();
    const second = page.getByRole('group', { name: 'Condition 2' });
    await second.getByRole('combobox', { name: 'Condition' }).click();
    await page.getByRole('option', { name: 'Performed event' }).click();
    await second.getByLabel('Event name').fill('Order Completed');
    await preview.getByLabel('Estimated size').getByText('1', { exact: true }).waitFor();
    await preview.getByRole('link', { name: 'Alan Turing' }).waitFor({ state: 'detached' });
    await preview.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    await screenshot(page, 'audience-builder');

    await page.getByRole('button', { name: 'Create audience' }).click();
    await page.getByRole('heading', { name: 'Pro buyers' }).waitFor();
    await page.getByLabel('Members', { exact: true }).getByText('1').waitFor();
    await page.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    const saved = await server.call('GET', '/api/v1/audiences/pro_buyers');
    expect(saved.body).toMatchObject({
      name: 'Pro buyers', size: 1,
      condition: { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { event: { type: 'track', name: 'Order Completed' }, count: { op: 'at_least', value: 1 } }] },
    });
    await screenshot(page, 'audience');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('says what a condition still lacks instead of previewing it', async () => {
    const { context, page } = await openApp(browser, server.url, '/audiences/new');
    await signInThroughForm(page);
    await page.getByRole('region', { name: 'Preview' }).getByText('Name the trait.').waitFor();
    const first = page.getByRole('group', { name: 'Condition 1' });
    await first.getByLabel('Trait').fill('plan');
    await page.getByRole('region', { name: 'Preview' }).getByText('Give a value.').waitFor();
    expect(await page.getByRole('button', { name: 'Create audience' }).isDisabled()).toBe(true);
    await context.close();
  });
});
