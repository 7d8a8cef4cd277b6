import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';


describe.skipIf(!runBrowserTests)('the web app: profiles', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: TestServer;
  let browser: Browser;

  const send = async (batch: object[]) => {
    const res = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${server.setup.writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ batch }),
    });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    server = await startServer(ENGINES[0]);
    browser = await launchBrowser();
    // A visitor browses anonymously, signs up (identify), and later comes back on a phone and logs in there.
    await send([
      { type: 'page', anonymousId: 'laptop-1', name: 'Pricing', properties: { path: '/pricing' } },
      { type: 'track', anonymousId: 'laptop-1', event: 'Viewed Plan', properties: { plan: 'pro' } },
      { type: 'identify', anonymousId: 'laptop-1', userId: 'grace-1', traits: { email: 'grace@navy.test', name: 'Grace Hopper', plan: 'pro' } },
    ]);
    await send([{ type: 'page', anonymousId: 'phone-1', name: 'Docs', properties: { path: '/docs' } }]);
    await send([{ type: 'track', anonymousId: 'phone-1', userId: 'grace-1', event: 'Logged In' }]);
    await server.call('POST', '/api/v1/audiences', { key: 'pro_plan', name: 'Pro plan', condition: { trait: 'plan', op: 'eq', value: 'pro' } });
    await until('both devices on one profile', async () => (await server.call('GET', '/api/v1/profiles?q=phone-1')).body.data?.[0]?.identifiers.length === 4);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('finds a person by identifier or by trait, and shows their anonymous and identified activity merged, with why', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/profiles');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Profiles' }).waitFor();

    await page.getByLabel('Identifier (email, user id, anonymous id…)').fill('grace@');
    // The unfiltered list shows Grace too, and the table empties while the search is asked:
    // count the rows drawn from the search's own answer, not the list it replaces.
    const answered = page.waitForResponse((r) => r.url().includes('/api/v1/profiles?') && decodeURIComponent(r.url()).includes('q=grace@'));
    await page.getByRole('button', { name: 'Search' }).click();
    await answered;
    const results = page.getByRole('table', { name: 'Profiles' });
    await results.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    expect(await results.getByRole('link').count()).toBe(1);

    await page.getByText('Trait', { exact: true }).click();
    await page.getByLabel('Trait (name = value)').fill('plan = pro');
    await page.getByRole('button', { name: 'Search' }).click();
    await results.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    await screenshot(page, 'profiles');
    await results.getByRole('link', { name: 'Grace Hopper' }).click();

    await page.getByRole('heading', { name: 'Grace Hopper' }).waitFor();
    const identities = page.getByRole('table', { name: 'Identities' });
    for (const value of ['laptop-1', 'phone-1', 'grace-1', 'grace@navy.test']) await identities.getByText(value, { exact: true }).waitFor();
    // The merge log says which event joined the phone's visits to Grace.
    const log = page.getByLabel('Merge log');
    await log.getByText(/^Merged in/).first().waitFor();
    await log.getByText(/One event carried .*"phone-1"/).first().waitFor();
    // Drawn too: four identifiers, one profile merged in.
    await page.getByRole('img', { name: 'Identity graph: 4 identifiers; 1 profile merged in.' }).waitFor();
    // One timeline: the anonymous pricing visit, the sign-up and the phone's log-in.
    const timeline = page.getByLabel('Timeline');
    await timeline.getByText('Viewed Pricing').waitFor();
    await timeline.getByText('Viewed Docs').waitFor();
    await timeline.getByText('Identified').waitFor();
    await timeline.getByText('Logged In').waitFor();
    await page.getByRole('table', { name: 'Traits' }).getByText('pro', { exact: true }).waitFor();
    await until('the audience to count Grace', async () => (await server.call('GET', '/api/v1/audiences/pro_plan')).body.size === 1);
    await page.reload();
    await page.getByText('pro_plan').waitFor();
    await screenshot(page, 'profile');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('splits a wrongly merged identifier off to a new profile', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/profiles?q=phone-1');
    await signInThroughForm(page);
    await page.getByRole('table', { name: 'Profiles' }).getByRole('link', { name: 'Grace Hopper' }).click();
    await page.getByRole('button', { name: 'Split anonymous_id phone-1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Split off' }).click();
    await page.getByText('Profile split').waitFor();
    await page.getByRole('table', { name: 'Identities' }).getByText('laptop-1', { exact: true }).waitFor();
    await page.getByRole('table', { name: 'Identities' }).getByText('phone-1', { exact: true }).waitFor({ state: 'detached' });
    const phone = await server.call('GET', '/api/v1/profiles?q=phone-1');
    expect(phone.body.data[0].identifiers).toEqual([{ type: 'anonymous_id', value: 'phone-1' }]);
    await page.getByLabel('Merge log').getByText(/^Split off/).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});
