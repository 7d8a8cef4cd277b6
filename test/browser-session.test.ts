import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from './support/engines.js';
import { startServer, type TestServer } from './support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const OWNER = { email: 'owner@acme.test', password: 'correct horse battery staple' };
// A name that is not localhost, so Chromium does not count plain HTTP to it as a secure context; it resolves to loopback.
const HOST = 'rapport.test';

/** What a page on `origin` gets back from Rapport's API, called with fetch as the web app will. */
async function callFrom(page: Page, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  return page.evaluate(async ({ path, init }) => {
    const res = await fetch(path, {
      method: init.method ?? 'GET',
      headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }, { path, init });
}

/** A TLS-terminating proxy in front of Rapport, as a load balancer would be: HTTPS outside, HTTP inside. */
function tlsProxy(target: string, key: Buffer, cert: Buffer) {
  const upstream = new URL(target);
  return createTlsServer({ key, cert }, (incoming, outgoing) => {
    const forwarded = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, 'x-forwarded-for': incoming.socket.remoteAddress ?? '', 'x-forwarded-proto': 'https' },
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    incoming.pipe(forwarded);
  });
}

describe.skipIf(!hasChromium && !process.env.CI)('a session in a real browser', () => {
  let rapport: TestServer;
  let port: number;
  let browser: Browser;
  let context: BrowserContext;
  let proxy: Server | undefined;
  let proxyPort = 0;
  let site: Server;
  let sitePort: number;
  let certDir: string;

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package to run the browser tests`);
    rapport = await startServer(ENGINES[0]);
    port = Number(new URL(rapport.url).port);
    // A self-signed certificate for the proxy, made for this run only.
    certDir = mkdtempSync(join(tmpdir(), 'rapport-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`,
      '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' });
    proxy = tlsProxy(rapport.url, readFileSync(join(certDir, 'key.pem')), readFileSync(join(certDir, 'cert.pem')));
    await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
    proxyPort = (proxy.address() as AddressInfo).port;
    // Another site, whose page makes the signed-in browser post to Rapport: a bodiless POST, which a
    // form can send and Rapport would otherwise accept (sign-out here, as rotating a write key would be).
    site = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html>
        <form id="f" method="POST" action="${rapport.url}/api/v1/auth/logout" enctype="text/plain"></form>
        <script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    sitePort = (site.address() as AddressInfo).port;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
        `--host-resolver-rules=MAP ${HOST} 127.0.0.1`],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
    await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
    if (certDir) rmSync(certDir, { recursive: true, force: true });
    await rapport?.close();
  });

  const signInAt = async (origin: string) => {
    context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`${origin}/healthz`);
    const signedIn = await callFrom(page, '/api/v1/auth/login', { method: 'POST', body: OWNER });
    const cookies = (await context.cookies()).filter((c) => c.name === '__Host-rapport_session');
    return { page, signedIn, cookies };
  };

  it('keeps the cookie on http://127.0.0.1 (a secure context) and sends it back; writes need the CSRF token', async () => {
    const { page, signedIn, cookies } = await signInAt(`http://127.0.0.1:${port}`);
    expect(signedIn.status).toBe(200);
    expect(cookies).toEqual([expect.objectContaining({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' })]);
    // HttpOnly: the page's scripts cannot read it.
    expect(await page.evaluate(() => document.cookie)).not.toContain('rapport_session');
    expect((await callFrom(page, '/api/v1/auth/session')).body).toMatchObject({ user: { email: OWNER.email }, role: 'owner' });
    expect((await callFrom(page, '/api/v1/invitations', { method: 'POST', body: { email: 'ada@acme.test', role: 'admin' } })).status).toBe(403);
    const invited = await callFrom(page, '/api/v1/invitations', { method: 'POST', body: { email: 'ada@acme.test', role: 'admin' }, headers: { 'x-csrf-token': signedIn.body.csrfToken } });
    expect(invited.status).toBe(201);
    expect((await callFrom(page, '/api/v1/auth/logout', { method: 'POST', headers: { 'x-csrf-token': signedIn.body.csrfToken } })).status).toBe(204);
    expect((await context.cookies()).filter((c) => c.name === '__Host-rapport_session')).toEqual([]);
    expect((await callFrom(page, '/api/v1/auth/session')).status).toBe(401);
    await context.close();
  });

  it('does not let another site write with the signed-in browser\'s session', async () => {
    const { page, signedIn } = await signInAt(`http://127.0.0.1:${port}`);
    expect(signedIn.status).toBe(200);
    const attack = await context.newPage();
    const landed = attack.waitForResponse((response) => response.url().endsWith('/api/v1/auth/logout'), { timeout: 10_000 });
    await attack.goto(`http://localhost:${sitePort}/`, { waitUntil: 'commit' });
    // SameSite=Lax keeps the cookie off another site's POST (401); were it sent, the missing CSRF token would stop it (403).
    expect((await landed).status()).toBe(401);
    expect((await callFrom(page, '/api/v1/auth/session')).status).toBe(200);
    await context.close();
  });

  it('gets no cookie over plain HTTP on a host that is not localhost: sign-in answers 200, the browser drops the cookie', async () => {
    const { page, signedIn, cookies } = await signInAt(`http://${HOST}:${port}`);
    expect(signedIn.status).toBe(200);
    expect(cookies).toEqual([]);
    expect((await callFrom(page, '/api/v1/auth/session')).status).toBe(401);
    await context.close();
  });

  it('keeps the cookie behind a TLS-terminating proxy, where the browser speaks HTTPS and Rapport plain HTTP', async () => {
    const { page, signedIn, cookies } = await signInAt(`https://${HOST}:${proxyPort}`);
    expect(signedIn.status).toBe(200);
    expect(cookies).toEqual([expect.objectContaining({ domain: HOST, secure: true, httpOnly: true })]);
    const me = await callFrom(page, '/api/v1/auth/session');
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(OWNER.email);
    await context.close();
  });
});
