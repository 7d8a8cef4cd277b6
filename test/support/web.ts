import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Browser tests run where Chromium is, and always under CI (where its absence is a failure, not a skip). */
export const runBrowserTests = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!existsSync(CHROMIUM) && !process.env.CI) {
  process.stderr.write(`note: ${CHROMIUM} is missing, so the web app's browser tests are skipped (apt-get install chromium)\n`);
}

/** A journey takes a few seconds alone; on a CI machine busy with every other suite, several times that. */
export const BROWSER_TEST_TIMEOUT = 120_000;

export const OWNER = { email: 'owner@acme.test', password: 'correct horse battery staple' };

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package to run the browser tests`);
  if (!existsSync(fileURLToPath(new URL('../../dist/web/index.html', import.meta.url)))) {
    throw new Error('dist/web is missing: build the web app (npm run build, or npm run build:web)');
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface AppPage {
  context: BrowserContext;
  page: Page;
  /** Errors the page threw and failed requests other than expected refusals: a journey should end with none. */
  problems: string[];
}

/** A fresh browser profile (no cookies) on the app; uncaught page errors are collected. */
export async function openApp(browser: Browser, url: string, path = '/', options: { bypassCSP?: boolean } = {}): Promise<AppPage> {
  // bypassCSP: for a test that injects a script of its own (axe-core); the app's CSP refuses inline scripts.
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: options.bypassCSP ?? false });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => void problems.push(`page error: ${error.message}`));
  page.on('response', (response) => void (response.status() >= 500 && problems.push(`${response.url()}: HTTP ${response.status()}`)));
  await page.goto(url + path);
  return { context, page, problems };
}

/** Signs in through the form, as a person would, and waits for the app's shell. */
export async function signInThroughForm(page: Page, who = OWNER): Promise<void> {
  await page.getByLabel('Email').fill(who.email);
  await page.getByRole('textbox', { name: 'Password', exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Saves docs/screenshots/<name>.png when RAPPORT_SCREENSHOTS is set (npm run screenshots). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!process.env.RAPPORT_SCREENSHOTS) return;
  const dir = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  // Transitions (200 ms in the kit) settle before the picture; only when pictures are asked for.
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 300)));
  // Toasts from the journey's last step would cover the screen's top right.
  const hidden = await page.addStyleTag({ content: '.mantine-Notifications-root { display: none !important; }' });
  await page.screenshot({ path: `${dir}${name}.png`, fullPage: false });
  await hidden.evaluate((style) => (style as Element).remove());
}

