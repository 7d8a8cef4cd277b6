import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, signInThroughForm } from '../support/web.js';
import { send } from '../collect/requests.js';

/**
 * Every main screen checked by axe-core (WCAG 2 A and AA: names and labels, roles, landmarks, colour contrast)
 * with data on it, as a person signed in as the owner sees it. The screens' own journeys are in the other files.
 */
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

async function violationsOf(page: Page): Promise<Violation[]> {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: unknown): Promise<{ violations: Violation[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
}

describe.skipIf(!runBrowserTests)('the web app is accessible', { timeout: BROWSER_TEST_TIMEOUT * 3 }, () => {
  let server: TestServer;
  let browser: Browser;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    server = await startServer(ENGINES[0]);
    browser = await launchBrowser();
    const write = async (batch: Record<string, unknown>[]) => {
      const res = await send(server, '/v1/batch', { batch });
      expect(res.status).toBe(200);
    };
    await write([
      { type: 'page', anonymousId: 'anon-1', name: 'Pricing', properties: { path: '/pricing' } },
      { type: 'identify', anonymousId: 'anon-1', userId: 'u-1', traits: { email: 'grace@acme.test', name: 'Grace Hopper' } },
      { type: 'track', userId: 'u-1', event: 'Order Completed', properties: { total: 40 } },
      { type: 'group', userId: 'u-1', groupId: 'acme', traits: { name: 'Acme', domain: 'acme.test' } },
    ]);
    await server.rapport.core.pipeline.drain();
    const made = async (path: string, body: unknown) => {
      const r = await server.call('POST', path, body);
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(201);
      return r.body.id as string;
    };
    ids.profile = (await server.call('GET', '/api/v1/profiles?q=grace')).body.data[0].id;
    ids.contact = await made('/api/v1/crm/contacts', { email: 'ada@acme.test', name: 'Ada Lovelace' });
    ids.company = await made('/api/v1/crm/companies', { name: 'Initech', domain: 'initech.test' });
    ids.deal = await made('/api/v1/crm/deals', { name: 'Initech renewal', amount: 12000, currency: 'USD', contactIds: [ids.contact] });
    ids.ticket = await made('/api/v1/crm/tickets', { subject: 'Cannot sign in', contactId: ids.contact });
    await made('/api/v1/crm/tasks', { title: 'Call Ada back', contactIds: [ids.contact] });
    await made('/api/v1/computed-traits', { key: 'orders', name: 'Orders', kind: 'count', event: { name: 'Order Completed' } });
    await made('/api/v1/audiences', { key: 'buyers', name: 'Buyers', condition: { computed_trait: 'orders', op: 'gte', value: 1 } });
    ids.destination = await made('/api/v1/destinations', { name: 'Hook', type: 'webhook', settings: { url: 'http://127.0.0.1:9/hook' } });
    await server.rapport.core.pipeline.drain();
    ids.source = (await server.call('GET', '/api/v1/sources')).body.data[0].id;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('has no WCAG 2.1 A or AA violation on any main screen', async () => {
    const screens = [
      '/', '/sources', `/sources/${ids.source}`, '/profiles', `/profiles/${ids.profile}`, '/computed-traits', '/computed-traits/new',
      '/audiences', '/audiences/new', '/destinations', `/destinations/${ids.destination}`,
      '/crm/contacts', `/crm/contacts/${ids.contact}`, '/crm/companies', `/crm/companies/${ids.company}`, '/crm/deals', `/crm/deals/${ids.deal}`,
      '/crm/tasks', '/crm/tickets', `/crm/tickets/${ids.ticket}`, '/crm/reports', '/crm/import',
      '/settings/members', '/settings/roles', '/settings/api-keys', '/settings/identity-rules', '/settings/privacy', '/settings/audit',
    ];
    const { context, page, problems } = await openApp(browser, server.url, '/', { bypassCSP: true });
    await signInThroughForm(page);
    const found: Record<string, string[]> = {};
    for (const path of screens) {
      await page.goto(`${server.url}${path}`);
      const shown = await page.locator('main h1, main h2').first().waitFor().then(() => true, () => false);
      if (!shown) {
        found[path] = ['no heading in the main area within 15 s', ...problems.splice(0), (await page.locator('body').innerText()).slice(0, 400)];
        continue;
      }
      // Queries settle: no spinner left in the main area.
      await page.waitForFunction(() => !document.querySelector('main [aria-busy="true"], main .mantine-Loader-root'), undefined, { timeout: 15_000 }).catch(() => undefined);
      const violations = await violationsOf(page);
      if (violations.length) found[path] = violations.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    }
    await context.close();
    expect(found).toEqual({});
    expect(problems).toEqual([]);
  });

  it('signs in with the keyboard alone', async () => {
    const { context, page } = await openApp(browser, server.url, '/', { bypassCSP: true });
    await page.getByLabel('Email').waitFor();
    expect(await violationsOf(page)).toEqual([]);
    await page.keyboard.press('Tab');
    // From the top of the page, Tab reaches the email, the password and the button, in that order.
    for (let i = 0; i < 10 && (await page.evaluate(() => document.activeElement?.getAttribute('type'))) !== 'email'; i++) await page.keyboard.press('Tab');
    await page.keyboard.type('owner@acme.test');
    await page.keyboard.press('Tab');
    await page.keyboard.type('correct horse battery staple');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // The skip link is the first stop, and takes focus to the main area.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    await context.close();
  });
});
