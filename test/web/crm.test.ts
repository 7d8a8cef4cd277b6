import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';

/** A pointer drag as a person makes it: press, move in steps (the board starts a drag after a few pixels), release. */
async function drag(page: Page, from: Locator, to: Locator) {
  const a = (await from.boundingBox())!;
  const b = (await to.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height - 8);
  await page.mouse.down();
  await page.mouse.move(a.x + a.width / 2 + 10, a.y + a.height - 8, { steps: 3 });
  await page.mouse.move(b.x + b.width / 2, b.y + 120, { steps: 12 });
  await page.mouse.up();
}

describe.skipIf(!runBrowserTests)('the web app: the CRM', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer(ENGINES[0]);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('creates a contact, finds it with a search and a filter, and saves that as a view', async () => {
    await server.call('POST', '/api/v1/crm/contacts', { email: 'ken@acme.test', name: 'Ken Thompson', lifecycleStage: 'customer' });
    const { context, page, problems } = await openApp(browser, server.url, '/crm/contacts');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Contacts' }).waitFor();
    await page.getByRole('button', { name: 'New contact' }).click();
    const dialog = page.getByRole('dialog', { name: 'New contact' });
    await dialog.getByLabel('Email').fill('ada@acme.test');
    await dialog.getByLabel('Name').fill('Ada Lovelace');
    await dialog.getByRole('button', { name: 'Create contact' }).click();
    await page.getByRole('heading', { name: 'Ada Lovelace' }).waitFor();
    // Edited in place: Enter saves.
    await page.getByRole('textbox', { name: 'Job title' }).fill('Analyst');
    await page.getByRole('textbox', { name: 'Job title' }).press('Enter');
    await page.getByText('Saved.').waitFor();
    const ada = (await server.call('GET', '/api/v1/crm/contacts?q=ada')).body.data[0];
    expect(ada).toMatchObject({ title: 'Analyst', lifecycleStage: 'lead' });

    await page.getByRole('link', { name: 'Contacts' }).first().click();
    const table = page.getByRole('table', { name: 'Contacts' });
    await table.getByRole('link', { name: 'Ken Thompson' }).waitFor();
    await table.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
    await page.getByRole('textbox', { name: 'Search' }).fill('ada');
    await page.waitForURL(/q=ada/);
    await table.getByRole('link', { name: 'Ken Thompson' }).waitFor({ state: 'detached' });
    await page.getByRole('textbox', { name: 'Search' }).fill('');
    await page.waitForURL((url) => !url.searchParams.has('q'));
    await page.getByRole('combobox', { name: 'Lifecycle stage' }).click();
    await page.getByRole('option', { name: 'Lead', exact: true }).click();
    await page.waitForURL(/lifecycleStage=lead/);
    await table.getByRole('link', { name: 'Ken Thompson' }).waitFor({ state: 'detached' });
    await table.getByRole('link', { name: 'Ada Lovelace' }).waitFor();

    await page.getByRole('button', { name: 'Save view' }).click();
    await page.getByRole('dialog', { name: 'Save this view' }).getByLabel('View name').fill('Open leads');
    await page.getByRole('dialog', { name: 'Save this view' }).getByRole('button', { name: 'Save view' }).click();
    await page.getByText('View "Open leads" saved for the workspace.').waitFor();
    const views = await server.call('GET', '/api/v1/crm/views?object=contact');
    expect(views.body.data).toEqual([expect.objectContaining({ name: 'Open leads', query: { lifecycleStage: 'lead' } })]);

    // The view brings its filter back from a clean list.
    await page.goto(`${server.url}/crm/contacts`);
    await table.getByRole('link', { name: 'Ken Thompson' }).waitFor();
    await page.getByRole('combobox', { name: 'Saved view' }).click();
    await page.getByRole('option', { name: 'Open leads' }).click();
    await table.getByRole('link', { name: 'Ken Thompson' }).waitFor({ state: 'detached' });
    await screenshot(page, 'contacts');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('creates a deal for the contact, drags it to another stage, and logs a call on it', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/crm/deals');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Deals' }).waitFor();
    await page.getByRole('button', { name: 'New deal' }).click();
    const dialog = page.getByRole('dialog', { name: 'New deal' });
    await dialog.getByLabel('Deal name').fill('Analytical Engine');
    await dialog.getByLabel('Amount (USD)').fill('5000');
    await dialog.getByRole('combobox', { name: 'Contact' }).fill('ada');
    await page.getByRole('option', { name: /Ada Lovelace/ }).click();
    await dialog.getByRole('button', { name: 'Create deal' }).click();
    // The dialog's overlay is gone before the board is touched.
    await dialog.waitFor({ state: 'detached' });

    const qualification = page.getByRole('region', { name: 'Stage Qualification' });
    const proposal = page.getByRole('region', { name: 'Stage Proposal' });
    const card = qualification.getByLabel('Deal Analytical Engine');
    await card.waitFor();
    await qualification.getByText('$5,000 · weighted $500').waitFor();

    // The board moves the card at once (optimistically): the server's answer to the move is what counts.
    const moved = page.waitForResponse((r) => r.request().method() === 'PATCH' && /\/api\/v1\/crm\/deals\//.test(r.url()));
    await drag(page, card, proposal);
    await proposal.getByLabel('Deal Analytical Engine').waitFor();
    expect((await moved).status()).toBe(200);
    const [deal] = (await server.call('GET', '/api/v1/crm/deals?q=Analytical')).body.data;
    const pipeline = (await server.call('GET', '/api/v1/crm/pipelines')).body.data[0];
    const stage = (name: string) => pipeline.stages.find((s: { name: string }) => s.name === name).id;
    expect(deal.stageId).toBe(stage('Proposal'));
    await proposal.getByText('$5,000 · weighted $2,000').waitFor();
    await screenshot(page, 'deals');

    // The deal's panel: its stage history, and a call logged on it (and on its contact).
    await proposal.getByRole('button', { name: 'Analytical Engine', exact: true }).click();
    const panel = page.getByRole('dialog', { name: 'Deal' });
    await panel.getByText(/Qualification → Proposal/).waitFor();
    await panel.getByLabel('Subject').fill('Discovery call');
    await panel.getByLabel('Notes').fill('Wants a difference engine too.');
    await panel.getByRole('button', { name: 'Log call' }).click();
    await page.getByText('Call logged.').waitFor();
    await panel.getByText('Discovery call').waitFor();
    const activities = await server.call('GET', `/api/v1/crm/activities?object=contact&id=${deal.contactIds[0]}`);
    expect(activities.body.data).toEqual([expect.objectContaining({ kind: 'call', subject: 'Discovery call', outcome: 'connected' })]);
    expect((await server.call('GET', `/api/v1/crm/deals/${deal.id}/stage-history`)).body.data.map((h: { toStageId: string }) => h.toStageId))
      .toEqual([stage('Qualification'), stage('Proposal')]);

    // The header's search finds the contact; her page shows the call logged on the deal.
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    await page.getByRole('combobox', { name: 'Search contacts, companies, deals and tickets' }).fill('Lovelace');
    await page.getByRole('option', { name: /Ada Lovelace/ }).click();
    await page.getByRole('heading', { name: 'Ada Lovelace' }).waitFor();
    await page.getByLabel('Activities').getByText('Discovery call').waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('moves a deal from the keyboard-reachable menu too, and a stale board is told, not overwritten', async () => {
    const created = await server.call('POST', '/api/v1/crm/deals', { name: 'Babbage', amount: 100 });
    const { context, page } = await openApp(browser, server.url, '/crm/deals');
    await signInThroughForm(page);
    const card = page.getByLabel('Deal Babbage');
    await card.waitFor();
    // Someone else moves it after this board loaded.
    const pipeline = (await server.call('GET', '/api/v1/crm/pipelines')).body.data[0];
    await server.call('PATCH', `/api/v1/crm/deals/${created.body.id}`, { stageId: pipeline.stages[1].id });
    await page.getByRole('button', { name: 'Move Babbage' }).press('Enter');
    await page.getByRole('menuitem', { name: 'Negotiation' }).click();
    await page.getByText('Someone changed this deal meanwhile').waitFor();
    await page.getByRole('region', { name: `Stage ${pipeline.stages[1].name}` }).getByLabel('Deal Babbage').waitFor();
    await page.getByRole('button', { name: 'Move Babbage' }).press('Enter');
    await page.getByRole('menuitem', { name: 'Negotiation' }).click();
    await page.getByRole('region', { name: 'Stage Negotiation' }).getByLabel('Deal Babbage').waitFor();
    await page.waitForFunction(async (id) => (await fetch(`/api/v1/crm/deals/${id}`).then((r) => r.json())).stageId !== undefined, created.body.id);
    expect((await server.call('GET', `/api/v1/crm/deals/${created.body.id}`)).body.stageId).toBe(pipeline.stages.find((s: { name: string }) => s.name === 'Negotiation').id);
    await context.close();
  });
});
