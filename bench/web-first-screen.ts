import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { ENGINES } from '../test/support/engines.js';
import { startServer } from '../test/support/server.js';
import buildWebApp from '../test/support/web-build.js';
import { CHROMIUM, OWNER } from '../test/support/web.js';

/**
 * Issue 8 asks for the first screen in under a second on localhost. One server in process on SQLite; each
 * load in a fresh browser context (no HTTP cache, no service worker), one at a time:
 *
 * - overview: a signed-in owner (the session cookie only) loads `/`. Usable when the Overview heading is shown
 *   and its figures are loaded: the "Pipeline lag" stat reads "N events" (GET /stats/events answered) and the
 *   "Delivery" stat no longer reads "—" (GET /destinations answered).
 * - sign-in: a fresh visitor loads `/`. Usable when the Email field and the Sign in button are shown.
 * - baseline: a static HTML page with one heading, from a bare node:http server. Usable when the heading is shown.
 *
 * Time is `performance.now()` in the page (0 = navigation start) at the first animation frame where the
 * screen is usable. JS is every `.js` resource of the load, by the Resource Timing API (transferSize:
 * bytes on the wire, headers included; decodedBodySize: uncompressed).
 *
 *   npm run bench:web -- [--loads 20]
 */
const { values: flags } = parseArgs({ options: { loads: { type: 'string', default: '20' } } });
const loads = Number(flags.loads);

buildWebApp(); // dist/web when missing or older than web/
const server = await startServer(ENGINES.find((e) => e.name === 'sqlite')!);
const baseline = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Baseline</title></head><body><h1>Overview</h1></body></html>');
});
await new Promise<void>((resolve) => baseline.listen(0, '127.0.0.1', resolve));
const baselineUrl = `http://127.0.0.1:${(baseline.address() as AddressInfo).port}/`;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});

// One sign-in through the form; its cookies are handed to each signed-in context.
const signIn = await browser.newContext();
const signInPage = await signIn.newPage();
await signInPage.goto(server.url);
await signInPage.getByLabel('Email').fill(OWNER.email);
await signInPage.getByRole('textbox', { name: 'Password', exact: true }).fill(OWNER.password);
await signInPage.getByRole('button', { name: 'Sign in' }).click();
await signInPage.getByRole('button', { name: 'Sign out' }).waitFor();
const signedIn = await signIn.storageState();
await signIn.close();

/** In the page (a function, not a string: the app's CSP forbids eval): the time once the screen is usable (see above). */
function usableAt(name: string): number | false {
  const text = (selector: string) => document.querySelector(selector)?.textContent ?? null;
  const usable = name === 'overview'
    ? [...document.querySelectorAll('h1')].some((e) => e.textContent === 'Overview')
      && /^\d[\d,]* events$/.test(text('[aria-label="Pipeline lag"]') ?? '') && (text('[aria-label="Delivery"]') ?? '—') !== '—'
    : name === 'sign-in'
      ? Boolean(document.querySelector('input[type="email"]')) && [...document.querySelectorAll('button')].some((b) => b.textContent === 'Sign in')
      : text('h1') === 'Overview';
  return usable ? performance.now() : false;
}

interface Load { ms: number; jsTransferred: number; jsDecoded: number; scripts: number }

async function load(name: string, url: string, state?: BrowserContextOptions['storageState']): Promise<Load> {
  const context = await browser.newContext({ storageState: state, viewport: { width: 1280, height: 860 } });
  // tsx names functions with a helper (__name) that the page lacks once usableAt is sent there.
  await context.addInitScript({ content: 'globalThis.__name = (f) => f;' });
  const page: Page = await context.newPage();
  await page.goto(url, { waitUntil: 'commit' });
  const handle = await page.waitForFunction(usableAt, name, { polling: 'raf', timeout: 30_000 });
  const ms = Number(await handle.jsonValue());
  const js = await page.evaluate(() => {
    const scripts = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).filter((r) => new URL(r.name).pathname.endsWith('.js'));
    return { transferred: scripts.reduce((s, r) => s + r.transferSize, 0), decoded: scripts.reduce((s, r) => s + r.decodedBodySize, 0), count: scripts.length };
  });
  await context.close();
  return { ms, jsTransferred: js.transferred, jsDecoded: js.decoded, scripts: js.count };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const runs: [string, string, BrowserContextOptions['storageState'] | undefined][] = [
  ['overview', server.url, signedIn],
  ['sign-in', server.url, undefined],
  ['baseline', baselineUrl, undefined],
];
const results = new Map<string, Load[]>();
for (const [name, url, state] of runs) await load(name, url, state); // one warm-up each: the server's first answers
for (let i = 0; i < loads; i++) {
  // Interleaved, so that a slow moment of the machine falls on every kind of load alike.
  for (const [name, url, state] of runs) results.set(name, [...(results.get(name) ?? []), await load(name, url, state)]);
}

const base = pct(results.get('baseline')!.map((r) => r.ms).sort((a, b) => a - b), 50);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
console.log(`\nfirst screen, ${loads} cold loads each (fresh context), Chromium headless, server on SQLite in process\n`);
console.log('| screen | p50 | p95 | max | p50 / baseline p50 | JS transferred | JS uncompressed | scripts |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const [name] of runs) {
  const list = results.get(name)!;
  const ms = list.map((r) => r.ms).sort((a, b) => a - b);
  const last = list[list.length - 1];
  console.log(`| ${name} | ${pct(ms, 50).toFixed(0)} ms | ${pct(ms, 95).toFixed(0)} ms | ${ms[ms.length - 1].toFixed(0)} ms | ${(pct(ms, 50) / base).toFixed(1)}× | ${kb(last.jsTransferred)} | ${kb(last.jsDecoded)} | ${last.scripts} |`);
}

await browser.close();
baseline.close();
await server.close();
