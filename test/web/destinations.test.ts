import { createHmac } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';

const SECRET = 'a-signing-secret-of-some-length';

describe.skipIf(!runBrowserTests)('the web app: destinations', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: TestServer;
  let browser: Browser;
  let receiver: Receiver;
  // The /strict endpoint refuses every message (a 4xx is not retried) until a test lets it accept.
  let refuse = true;

  beforeAll(async () => {
    server = await startServer(ENGINES[0], { delivery: { pollMs: 50 } });
    browser = await launchBrowser();
    receiver = await startReceiver((_, request) => (request.path.startsWith('/strict') && refuse ? { status: 422, body: '{"error":"unknown plan"}' } : { status: 200 }));
  });
  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
    await server?.close();
  });

  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
  };
  /** Messages a path of the receiver accepted. */
  const accepted = (path: string) => receiver.requests
    .filter((r) => r.path.startsWith(path) && r.answered === 200)
    .flatMap((r) => (Array.isArray(r.body?.batch) ? r.body.batch : [r.body]) as { messageId: string; type: string }[]);

  it('creates a signed webhook for track events, shows each delivery in its log, edits its filter and disables it', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/destinations');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Destinations' }).waitFor();
    await page.getByRole('table', { name: 'Destinations' }).getByText('No destinations yet').waitFor();
    await page.getByRole('button', { name: 'New destination' }).click();
    const dialog = page.getByRole('dialog', { name: 'New destination' });
    await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('Warehouse');
    await dialog.getByRole('textbox', { name: 'URL', exact: true }).fill(`${receiver.url}/hook`);
    await dialog.getByLabel('Signing secret', { exact: true }).fill(SECRET);
    await dialog.getByRole('combobox', { name: 'Event types' }).click();
    await page.getByRole('option', { name: 'track' }).click();
    await page.keyboard.press('Tab');
    await dialog.getByRole('textbox', { name: 'Give up after (minutes)' }).fill('30');
    await dialog.getByRole('button', { name: 'Create destination' }).click();
    await page.getByRole('heading', { name: 'Warehouse' }).waitFor();
    const [created] = (await server.call('GET', '/api/v1/destinations')).body.data;
    expect(created).toMatchObject({ name: 'Warehouse', type: 'webhook', enabled: true, settings: { url: `${receiver.url}/hook`, secret: '(set)', mode: 'batch' }, filter: { types: ['track'] }, retry: { maxAgeMs: 1_800_000 } });
    expect(page.url()).toBe(`${server.url}/destinations/${created.id}`);

    await send([
      { type: 'track', event: 'Signed Up', userId: 'ada', messageId: 'web-1' },
      { type: 'identify', userId: 'ada', traits: { plan: 'pro' }, messageId: 'web-2' },
    ]);
    await until('the delivery', () => accepted('/hook').length > 0 || undefined);
    // Only the track event passed the filter, signed with the secret.
    expect(accepted('/hook').map((m) => m.messageId)).toEqual(['web-1']);
    const request = receiver.requests.find((r) => r.path === '/hook')!;
    const [t, v1] = String(request.headers['x-rapport-signature']).split(',').map((p) => p.split('=')[1]);
    expect(v1).toBe(createHmac('sha256', SECRET).update(`${t}.${request.raw}`).digest('hex'));
    const delivered = page.getByRole('table', { name: 'Delivery log' }).getByRole('row').filter({ hasText: 'delivered' });
    await delivered.getByRole('cell', { name: '200', exact: true }).waitFor();
    await until('the last hour counted', async () => (await page.getByLabel('Delivered (last hour)').textContent()) === '1' || undefined);
    await screenshot(page, 'destination');

    // A test event goes out at once, outside the queue, and the screen says what the destination answered.
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByText('Test event delivered').waitFor();
    expect(receiver.requests.filter((r) => r.path === '/hook').flatMap((r) => r.body.batch).map((m: { event: string }) => m.event)).toEqual(['Signed Up', 'Rapport Test Event']);

    // The filter is changed on the settings tab; the secret, not sent again, is kept.
    await page.getByRole('tab', { name: 'Settings' }).click();
    await page.getByRole('combobox', { name: 'Event names' }).fill('Signed Up');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Save destination' }).click();
    await until('the filter saved', async () => {
      const d = (await server.call('GET', `/api/v1/destinations/${created.id}`)).body;
      return d.filter.events ? d : undefined;
    }).then((d) => expect(d).toMatchObject({ filter: { types: ['track'], events: ['Signed Up'] }, settings: { secret: '(set)' }, retry: { maxAgeMs: 1_800_000 } }));

    await page.getByRole('tab', { name: 'Delivery log' }).click();
    await page.getByRole('switch', { name: 'Enabled' }).click();
    await until('disabled', async () => (await server.call('GET', `/api/v1/destinations/${created.id}`)).body.enabled === false || undefined);
    await page.getByRole('link', { name: 'Destinations', exact: true }).first().click();
    await page.getByRole('table', { name: 'Destinations' }).getByRole('row').filter({ hasText: 'Warehouse' }).getByText('disabled').waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('lists a message the destination refused as a dead letter with its answer, and replays it from the screen', async () => {
    const created = await server.call('POST', '/api/v1/destinations', {
      name: 'Billing sync', type: 'webhook', settings: { url: `${receiver.url}/strict` }, retry: { minDelayMs: 50, maxDelayMs: 200, maxAgeMs: 2_000, minAttempts: 2 },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await send([{ type: 'track', event: 'Upgraded', userId: 'bob', messageId: 'refused-1' }]);
    await until('a dead letter', async () => (await server.call('GET', `/api/v1/destinations/${id}/dead-letters`)).body.data[0]);

    const { context, page, problems } = await openApp(browser, server.url, '/destinations');
    await signInThroughForm(page);
    const list = page.getByRole('table', { name: 'Destinations' });
    await list.getByRole('row').filter({ hasText: 'Billing sync' }).waitFor();
    await screenshot(page, 'destinations');
    await list.getByRole('link', { name: 'Billing sync' }).click();
    await page.getByRole('heading', { name: 'Billing sync' }).waitFor();
    await page.getByRole('table', { name: 'Delivery log' }).getByRole('row').filter({ hasText: 'failed' }).getByText('422').waitFor();
    await page.getByRole('tab', { name: /Dead letters/ }).click();
    const letter = page.getByRole('table', { name: 'Dead letters' }).getByRole('row').filter({ hasText: 'rejected' });
    await letter.getByText('{"error":"unknown plan"}').waitFor();
    expect(accepted('/strict')).toEqual([]);

    refuse = false;
    await letter.getByRole('button', { name: /^Replay dead letter/ }).click();
    await until('the replayed delivery', () => accepted('/strict').length > 0 || undefined);
    expect(accepted('/strict').map((m) => m.messageId)).toEqual(['refused-1']);
    await page.getByRole('table', { name: 'Dead letters' }).getByText('No dead letters.').waitFor();
    expect((await server.call('GET', `/api/v1/destinations/${id}/dead-letters`)).body.data).toEqual([]);
    await page.getByRole('tab', { name: 'Delivery log' }).click();
    await page.getByRole('table', { name: 'Delivery log' }).getByRole('row').filter({ hasText: 'delivered' }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});
