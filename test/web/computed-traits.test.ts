import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';
import { send as post } from '../collect/requests.js';

describe.skipIf(!runBrowserTests)('the web app: computed traits and scores', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: TestServer;
  let browser: Browser;
  const drain = () => server.rapport.core.pipeline.drain();
  const send = async (batch: unknown[]) => {
    const res = await post(server, '/v1/batch', { batch });
    expect(res.status).toBe(200);
  };
  const pick = async (page: Page, scope: ReturnType<Page['getByRole']> | Page, label: string, option: string) => {
    await scope.getByRole('combobox', { name: label }).click();
    await page.getByRole('option', { name: option, exact: true }).click();
  };
  const definition = async (key: string) => (await server.call('GET', `/api/v1/computed-traits/${key}`)).body;

  beforeAll(async () => {
    server = await startServer(ENGINES[0]);
    browser = await launchBrowser();
    await send([{ type: 'identify', userId: 'u1', traits: { name: 'Grace Hopper', plan: 'pro' } }]);
    await drain();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('creates a count over the last 30 days and a sum of a property, and shows their values on the profile', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/audiences');
    await signInThroughForm(page);
    await page.getByRole('link', { name: 'Computed traits and scores' }).click();
    await page.getByRole('heading', { name: 'Computed traits and scores' }).waitFor();

    await page.getByRole('link', { name: 'New computed trait' }).click();
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Orders');
    expect(await page.getByLabel('Key').inputValue()).toBe('orders');
    await page.getByLabel('Event name').fill('Order Completed');
    await page.getByText('The last…').click();
    expect(await page.getByLabel('Last', { exact: true }).inputValue()).toBe('30');
    await page.getByRole('button', { name: 'Create computed trait' }).click();
    const table = page.getByRole('table', { name: 'Computed traits and scores' });
    await table.getByRole('link', { name: 'Orders' }).waitFor();

    await page.getByRole('link', { name: 'New computed trait' }).click();
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Total spent');
    await pick(page, page, 'Kind', 'Sum of a property');
    await page.getByLabel('Event name').fill('Order Completed');
    await page.getByLabel('Property', { exact: true }).fill('total');
    await page.getByRole('button', { name: 'Add property condition' }).click();
    const where = page.getByRole('group', { name: 'Property condition 1' });
    await where.getByLabel('Event property').fill('currency');
    await where.getByRole('textbox', { name: 'Value' }).fill('EUR');
    await page.getByRole('button', { name: 'Create computed trait' }).click();
    await table.getByRole('link', { name: 'Total spent' }).waitFor();
    await table.getByRole('row', { name: /Orders.*last 30 days/ }).waitFor();

    expect(await definition('orders')).toMatchObject({ kind: 'count', event: { type: 'track', name: 'Order Completed' }, within: { last: 30, unit: 'days' } });
    expect(await definition('total_spent')).toMatchObject({
      kind: 'sum', property: 'total', event: { type: 'track', name: 'Order Completed', where: [{ property: 'currency', op: 'eq', value: 'EUR' }] },
    });
    expect((await definition('total_spent')).within).toBeUndefined();

    await send([
      { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 30, currency: 'EUR' } },
      { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 15, currency: 'EUR' } },
      { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 99, currency: 'USD' } },
    ]);
    await drain();
    await page.reload();
    await table.getByRole('row', { name: /Total spent/ }).getByText('ready').waitFor();
    await screenshot(page, 'computed-traits');

    const profiles = (await server.call('GET', '/api/v1/profiles?trait=plan:pro')).body.data as { id: string }[];
    await page.goto(`${server.url}/profiles/${profiles[0].id}`);
    const values = page.getByRole('table', { name: 'Computed traits' });
    await values.getByRole('row', { name: 'orders 3' }).waitFor();
    await values.getByRole('row', { name: 'total_spent 45' }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('creates a score from event and trait rules with decay', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/computed-traits');
    await signInThroughForm(page);
    await page.getByRole('link', { name: 'New score' }).click();
    await page.getByRole('heading', { name: 'New score' }).waitFor();
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Engagement');
    const first = page.getByRole('group', { name: 'Rule 1' });
    await first.getByLabel('Event name').fill('Order Completed');
    await first.getByRole('textbox', { name: 'Points', exact: true }).fill('10');
    await page.getByRole('button', { name: 'Add rule' }).click();
    const second = page.getByRole('group', { name: 'Rule 2' });
    await pick(page, second, 'Points for', 'a trait');
    await second.getByLabel('Trait').fill('plan');
    await second.getByRole('textbox', { name: 'Value' }).fill('pro');
    await second.getByRole('textbox', { name: 'Points', exact: true }).fill('5');
    await page.getByLabel('Half-life of event points (days)').fill('7');
    await page.getByRole('button', { name: 'Create score' }).click();
    await page.getByRole('table', { name: 'Computed traits and scores' }).getByRole('link', { name: 'Engagement' }).waitFor();
    expect(await definition('engagement')).toMatchObject({
      kind: 'score', decay: { half_life_days: 7 },
      rules: [{ event: { type: 'track', name: 'Order Completed' }, points: 10 }, { trait: { trait: 'plan', op: 'eq', value: 'pro' }, points: 5 }],
    });
    expect(problems).toEqual([]);
    await context.close();
  });

  it('changes a computed trait, which is then recomputed', async () => {
    const { context, page } = await openApp(browser, server.url, '/computed-traits/total_spent');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Total spent' }).waitFor();
    expect(await page.getByLabel('Property', { exact: true }).inputValue()).toBe('total');
    expect(await page.getByRole('group', { name: 'Property condition 1' }).getByRole('textbox', { name: 'Value' }).inputValue()).toBe('EUR');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Biggest order');
    await pick(page, page, 'Kind', 'Largest value of a property');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('table', { name: 'Computed traits and scores' }).getByRole('link', { name: 'Biggest order' }).waitFor();
    expect(await definition('total_spent')).toMatchObject({ name: 'Biggest order', kind: 'max', property: 'total' });
    await drain();
    const profiles = (await server.call('GET', '/api/v1/profiles?trait=plan:pro')).body.data as { id: string }[];
    await page.goto(`${server.url}/profiles/${profiles[0].id}`);
    await page.getByRole('table', { name: 'Computed traits' }).getByRole('row', { name: 'total_spent 30' }).waitFor();
    await context.close();
  });

  it('shows the API\'s reason when a definition is refused, and when an audience still uses the trait', async () => {
    const { context, page } = await openApp(browser, server.url, '/computed-traits/new');
    await signInThroughForm(page);
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Average order');
    await pick(page, page, 'Kind', 'Average of a property');
    await page.getByLabel('Event name').fill('Order Completed');
    await page.getByRole('button', { name: 'Create computed trait' }).click();
    await page.getByRole('alert').getByText('Kind "avg" needs the event property it aggregates.').waitFor();
    expect((await server.call('GET', '/api/v1/computed-traits/average_order')).status).toBe(404);

    expect((await server.call('POST', '/api/v1/audiences', { key: 'frequent', name: 'Frequent buyers', condition: { computed_trait: 'orders', op: 'gte', value: 2 } })).status).toBe(201);
    await page.goto(`${server.url}/computed-traits`);
    await page.getByRole('row', { name: /Orders/ }).getByRole('link', { name: 'Frequent buyers' }).waitFor();
    await page.getByRole('link', { name: 'Orders', exact: true }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('alert').getByText('Audiences frequent use computed trait "orders"; change them first.').waitFor();
    expect((await server.call('GET', '/api/v1/computed-traits/orders')).status).toBe(200);

    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.goto(`${server.url}/computed-traits/engagement`);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { name: 'Computed traits and scores' }).waitFor();
    expect((await server.call('GET', '/api/v1/computed-traits/engagement')).status).toBe(404);
    await context.close();
  });
});
