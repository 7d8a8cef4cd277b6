import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from './support/engines.js';
import { logRows, startServer, type TestServer } from './support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && !process.env.CI) {
  process.stderr.write(`note: ${CHROMIUM} is missing, so the browser test is skipped (apt-get install chromium; under CI it fails instead)\n`);
}

/** The snippet exactly as README.md documents it, with its two documented edits made for this server. */
function readmeSnippet(rapportUrl: string, writeKey: string): string {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.split('### From a website, with the standard Segment snippet')[1];
  const snippet = section?.match(/```html\n([\s\S]*?)```/)?.[1];
  if (!snippet) throw new Error('README.md no longer has the Segment snippet under "From a website, with the standard Segment snippet"');
  return snippet.replaceAll('http://localhost:8080', rapportUrl).replaceAll('YOUR_WRITE_KEY', writeKey);
}

function shopPage(snippet: string): string {
  return `<!doctype html>
<html>
  <head>
    <title>Acme shop</title>
    ${snippet}
    <script>analytics.identify('user-1', { email: 'ada@acme.test' });</script>
  </head>
  <body>
    <button id="buy" onclick="analytics.track('Clicked Buy', { sku: 'A-1', price: 19.99 })">Buy</button>
  </body>
</html>`;
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!hasChromium && !process.env.CI)('the standard Segment snippet in a browser', () => {
  let rapport: TestServer;
  let site: Server;
  let siteUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package to run the browser test`);
    rapport = await startServer(ENGINES[0]);
    // The shop is another origin (another host name and port), as a customer's site is.
    const html = shopPage(readmeSnippet(rapport.url, rapport.setup.writeKey));
    site = createServer((request, response) => {
      if (request.url !== '/shop') return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://localhost:${(site.address() as AddressInfo).port}/shop`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
    await rapport?.close();
  });

  it('loads analytics.js and its settings from Rapport and delivers page, identify and track to the event log', async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    const failures: string[] = [];
    page.on('request', (request) => void requests.push(request.url()));
    page.on('requestfailed', (request) => void failures.push(`${request.url()}: ${request.failure()?.errorText}`));
    page.on('response', (response) => void (response.status() >= 400 && failures.push(`${response.url()}: HTTP ${response.status()}`)));
    page.on('pageerror', (error) => void failures.push(`page error: ${error.message}`));

    await page.goto(siteUrl);
    await page.waitForFunction(() => (window as unknown as { analytics?: { initialized?: boolean } }).analytics?.initialized === true, undefined, { timeout: 15_000 });
    await page.click('#buy');

    const rows = await eventually(() => logRows(rapport), (r) => r.length >= 3);
    const details = `requests: ${requests.join(', ')}\nfailures: ${failures.join(', ')}`;
    expect(rows.map((r) => r.type).sort(), details).toEqual(['identify', 'page', 'track']);
    const byType = Object.fromEntries(rows.map((r) => [r.type, r.payload as Record<string, any>]));

    const userAgent = await page.evaluate(() => navigator.userAgent);
    const anonymousId = byType.page.anonymousId;
    expect(anonymousId).toEqual(expect.any(String));
    for (const call of Object.values(byType)) {
      // One visitor: the same anonymousId on every call, with the browser's own context.
      expect(call.anonymousId).toBe(anonymousId);
      expect(call.context.userAgent).toBe(userAgent);
      expect(call.context.page.url).toBe(siteUrl);
      expect(call.context.library.name).toBe('analytics.js');
      expect(call.context.userAgentParsed.browser.name).toMatch(/Chrom/);
    }
    expect(byType.page.properties).toMatchObject({ url: siteUrl, title: 'Acme shop', path: '/shop' });
    expect(byType.identify).toMatchObject({ userId: 'user-1', traits: { email: 'ada@acme.test' } });
    // analytics.js carries the identified user onto the calls that follow.
    expect(byType.track).toMatchObject({ event: 'Clicked Buy', userId: 'user-1', properties: { sku: 'A-1', price: 19.99 } });

    // Everything came from Rapport or the shop itself: no request left for Segment's CDN or API.
    const writeKey = rapport.setup.writeKey;
    expect(requests).toContain(`${rapport.url}/analytics.js/v1/${writeKey}/analytics.min.js`);
    expect(requests).toContain(`${rapport.url}/v1/projects/${writeKey}/settings`);
    expect(requests.filter((url) => !['127.0.0.1', 'localhost'].includes(new URL(url).hostname)), details).toEqual([]);
    expect(failures).toEqual([]);
    await page.close();
  });
});
