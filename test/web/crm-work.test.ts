import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, OWNER, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';

const HOUR = 3_600_000;

/** A picture without the "Saved." notices over the page's header (they close by themselves). */
async function picture(page: Page, name: string) {
  if (process.env.RAPPORT_SCREENSHOTS) await page.locator('.mantine-Notification-root').first().waitFor({ state: 'detached', timeout: 10_000 });
  await screenshot(page, name);
}
/** The server's clock: the real one, moved back while a record is made to make it older than it is. */
const clock = { offset: 0, now: () => Date.now() + clock.offset };

describe.skipIf(!runBrowserTests)('the web app: companies, deals, tasks, tickets and reports', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: TestServer;
  let browser: Browser;
  let initech: { id: string };
  let peter: string;
  let deal: { id: string; stageId: string };
  let owner: string;
  const api = async (method: string, path: string, body?: unknown) => {
    const answer = await server.call(method, `/api/v1${path}`, body);
    expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(300);
    return answer.body;
  };
  const stageId = async (name: string) => (await api('GET', '/crm/pipelines')).data[0].stages.find((s: { name: string }) => s.name === name).id as string;

  beforeAll(async () => {
    server = await startServer(ENGINES[0], { clock });
    browser = await launchBrowser();
    owner = (await api('GET', '/users')).data.find((u: { email: string }) => u.email === OWNER.email).id;
    // A company, and a person the product puts in it (a group call), as the collection API receives them.
    initech = await api('POST', '/crm/companies', { domain: 'initech.com', name: 'Initech', industry: 'Software' });
    const res = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${server.setup.writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ batch: [
        { type: 'identify', userId: 'peter', traits: { email: 'peter@initech.com', name: 'Peter Gibbons' } },
        { type: 'group', userId: 'peter', groupId: 'initech.com' },
      ] }),
    });
    expect(res.status).toBe(200);
    peter = await until('Peter is a contact of Initech', async () => (await api('GET', `/crm/companies/${initech.id}`)).contactIds[0] as string | undefined);
    deal = await api('POST', '/crm/deals', { name: 'Initech renewal', amount: 12_000, closeDate: new Date(Date.now() + 20 * 24 * HOUR).toISOString().slice(0, 10), companyId: initech.id, contactIds: [peter], ownerId: owner });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('lists companies and opens one with its contact, its deal and its timeline', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/crm/companies');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Companies' }).waitFor();
    const table = page.getByRole('table', { name: 'Companies' });
    await table.getByRole('link', { name: 'Initech' }).waitFor();
    await page.getByRole('textbox', { name: 'Search' }).fill('nomatch');
    await table.getByText('No company matches.').waitFor();
    await page.getByRole('textbox', { name: 'Search' }).fill('initech');
    await page.waitForURL(/q=initech/);
    await page.getByRole('button', { name: 'Save view' }).click();
    await page.getByRole('dialog', { name: 'Save this view' }).getByLabel('View name').fill('Initech only');
    await page.getByRole('dialog', { name: 'Save this view' }).getByRole('button', { name: 'Save view' }).click();
    await page.getByText('View "Initech only" saved for the workspace.').waitFor();
    expect((await api('GET', '/crm/views?object=company')).data).toEqual([expect.objectContaining({ name: 'Initech only', query: { q: 'initech' } })]);
    // The owner is set in the row.
    await table.getByRole('combobox', { name: 'Owner of Initech' }).click();
    await page.getByRole('option', { name: OWNER.email }).click();
    await page.getByText('Owner of Initech saved.').waitFor();
    expect((await api('GET', `/crm/companies/${initech.id}`)).ownerId).toBe(owner);
    await picture(page, 'companies');

    await table.getByRole('link', { name: 'Initech' }).click();
    await page.getByRole('heading', { name: 'Initech' }).waitFor();
    await page.getByLabel('Contacts of the company').getByRole('link', { name: 'Peter Gibbons' }).waitFor();
    await page.getByLabel('Deals of the company').getByRole('link', { name: 'Initech renewal' }).waitFor();
    await page.getByRole('textbox', { name: 'Industry' }).fill('Banking software');
    await page.getByRole('textbox', { name: 'Industry' }).press('Enter');
    await page.getByText('Saved.', { exact: true }).waitFor();
    await page.getByLabel('Timeline').getByText('Company Created').waitFor();
    await picture(page, 'company');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('opens a deal from the board, moves it to another stage there and shows the stage history', async () => {
    const { context, page, problems } = await openApp(browser, server.url, '/crm/deals');
    await signInThroughForm(page);
    await page.getByRole('button', { name: 'Initech renewal', exact: true }).click();
    await page.getByRole('dialog', { name: 'Deal' }).getByRole('link', { name: 'Open deal page' }).click();
    await page.getByRole('heading', { name: 'Initech renewal', level: 1 }).waitFor();
    await page.getByText('Company: Initech').waitFor();
    await page.getByLabel('Contacts of the deal').getByRole('link', { name: 'Peter Gibbons' }).waitFor();

    await page.getByRole('combobox', { name: 'Stage' }).click();
    await page.getByRole('option', { name: /^Proposal/ }).click();
    await page.getByText('Saved.', { exact: true }).waitFor();
    await page.getByLabel('Stage history').getByText('Qualification → Proposal').waitFor();
    expect((await api('GET', `/crm/deals/${deal.id}`)).stageId).toBe(await stageId('Proposal'));
    // Contacts are added and removed where they are listed.
    const michael = await api('POST', '/crm/contacts', { email: 'michael@initech.com', name: 'Michael Bolton' });
    const contacts = page.getByLabel('Contacts of the deal');
    await page.getByRole('combobox', { name: 'Add a contact' }).fill('bolton');
    await page.getByRole('option', { name: /Michael Bolton/ }).click();
    await contacts.getByRole('link', { name: 'Michael Bolton' }).waitFor();
    expect((await api('GET', `/crm/deals/${deal.id}`)).contactIds).toEqual([peter, michael.id]);
    await contacts.getByRole('button', { name: 'Remove Michael Bolton from the deal' }).click();
    await contacts.getByRole('link', { name: 'Michael Bolton' }).waitFor({ state: 'detached' });
    expect((await api('GET', `/crm/deals/${deal.id}`)).contactIds).toEqual([peter]);

    // A task for the deal, made here, is the signed-in member's and about the deal and its contact.
    const newTask = page.getByRole('form', { name: 'New task for the deal' });
    await newTask.getByLabel('New task').fill('Send the renewal quote');
    await newTask.getByRole('button', { name: 'Add task' }).click();
    await page.getByLabel('Tasks of the deal').getByText('Send the renewal quote').waitFor();
    expect((await api('GET', `/crm/tasks?dealId=${deal.id}`)).data).toEqual([expect.objectContaining({ title: 'Send the renewal quote', assigneeId: owner, contactIds: [peter], status: 'open' })]);
    await page.getByRole('checkbox', { name: 'Complete Send the renewal quote' }).click();
    await page.getByLabel('Tasks of the deal').getByText('Send the renewal quote').waitFor({ state: 'detached' });

    await page.getByRole('spinbutton', { name: 'Amount' }).fill('15000');
    await page.getByRole('spinbutton', { name: 'Amount' }).press('Enter');
    await page.getByText('$6,000').waitFor(); // weighted at 40 %
    expect((await api('GET', `/crm/deals/${deal.id}`)).amount).toBe(15_000);
    await picture(page, 'deal');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('lists my open tasks by due date with the overdue flagged, creates one and completes it', async () => {
    await api('POST', '/crm/tasks', { title: 'Chase the TPS reports', dueAt: new Date(Date.now() - 24 * HOUR).toISOString(), assigneeId: owner, dealIds: [deal.id] });
    await api('POST', '/crm/tasks', { title: 'Someone else’s task', assigneeId: 'somebody-else' });
    const { context, page, problems } = await openApp(browser, server.url, '/crm/tasks');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'My tasks' }).waitFor();
    const table = page.getByRole('table', { name: 'Tasks' });
    const overdue = table.getByRole('row', { name: /Chase the TPS reports/ });
    await overdue.getByText('Overdue').waitFor();
    await expect(table.getByText('Someone else’s task').count()).resolves.toBe(0);

    await page.getByRole('button', { name: 'New task' }).click();
    const dialog = page.getByRole('dialog', { name: 'New task' });
    await dialog.getByLabel('Title').fill('Fix the stapler');
    await dialog.getByLabel('Due').fill('2099-01-15T09:30');
    await dialog.getByRole('button', { name: 'Create task' }).click();
    await dialog.waitFor({ state: 'detached' });
    const created = table.getByRole('row', { name: /Fix the stapler/ });
    await created.waitFor();
    // Soonest due first: the overdue one leads.
    await expect(table.getByRole('row').nth(1).textContent()).resolves.toContain('Chase the TPS reports');
    await expect(created.getByText('Overdue').count()).resolves.toBe(0);
    await picture(page, 'tasks');

    await page.getByRole('checkbox', { name: 'Complete Fix the stapler' }).click();
    await page.getByText('Completed "Fix the stapler".').waitFor();
    await created.waitFor({ state: 'detached' });
    const task = (await api('GET', `/crm/tasks?assigneeId=${owner}&status=done`)).data.find((t: { title: string }) => t.title === 'Fix the stapler');
    expect(task).toMatchObject({ title: 'Fix the stapler', status: 'done', dueAt: expect.stringMatching(/^2099-01-1/) });

    await page.getByText('Everyone', { exact: true }).click();
    await page.waitForURL(/who=all/);
    await table.getByText('Someone else’s task').waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('flags a ticket past its first-response target in the queue, and resolves it from its page', async () => {
    // Opened two hours ago as urgent: a first response was due within the hour.
    clock.offset = -2 * HOUR;
    const late = await api('POST', '/crm/tickets', { subject: 'Printer on fire', priority: 'urgent', contactId: peter });
    clock.offset = 0;
    await api('POST', '/crm/tickets', { subject: 'Stapler missing', priority: 'low', assigneeId: owner });
    const { context, page, problems } = await openApp(browser, server.url, '/crm/tickets');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Tickets' }).waitFor();
    const table = page.getByRole('table', { name: 'Tickets' });
    const fire = table.getByRole('row', { name: /Printer on fire/ });
    await fire.getByLabel('First response: breached').waitFor();
    await fire.getByLabel(/^Resolution: [12]h \d+m left$/).waitFor();
    const stapler = table.getByRole('row', { name: /Stapler missing/ });
    await stapler.getByLabel(/^First response: 2\dh \d+m left$/).waitFor();
    await expect(stapler.getByText('Breached').count()).resolves.toBe(0);
    await page.getByRole('checkbox', { name: 'Breached only' }).click();
    await page.waitForURL(/breached=true/);
    await stapler.waitFor({ state: 'detached' });
    await fire.waitFor();
    await screenshot(page, 'tickets');

    await fire.getByRole('link', { name: 'Printer on fire' }).click();
    await page.getByRole('heading', { name: 'Printer on fire' }).waitFor();
    await page.getByRole('link', { name: 'Peter Gibbons' }).waitFor();
    const reply = page.getByRole('form', { name: 'Reply or note' });
    await reply.getByRole('textbox', { name: 'Reply' }).fill('We are sending a fire extinguisher.');
    await reply.getByRole('button', { name: 'Log reply' }).click();
    await page.getByText('Reply logged.').waitFor();
    await page.getByLabel('Activities').getByText('Re: Printer on fire').waitFor();
    // Answered late: still breached, and said so.
    await page.getByLabel('First response: breached').getByText('Breached (met late)').waitFor();

    await page.getByRole('combobox', { name: 'Status' }).click();
    await page.getByRole('option', { name: 'Resolved' }).click();
    await page.getByText('Saved.', { exact: true }).waitFor();
    await page.getByLabel('Resolution: met').waitFor();
    const after = await api('GET', `/crm/tickets/${late.id}`);
    expect(after).toMatchObject({ status: 'resolved', sla: { firstResponseBreached: true, resolutionBreached: false } });
    expect(after.sla.firstRespondedAt).not.toBeNull();
    await picture(page, 'ticket');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('draws the reports: pipeline by stage, forecast, win rate, activities per owner, SLA compliance', async () => {
    const won = await api('POST', '/crm/deals', { name: 'Initech support', amount: 3_000, ownerId: owner, closeDate: new Date().toISOString().slice(0, 10) });
    await api('PATCH', `/crm/deals/${won.id}`, { stageId: await stageId('Won') });
    await api('POST', '/crm/activities', { kind: 'call', subject: 'Kick-off', dealIds: [deal.id] });
    const { context, page, problems } = await openApp(browser, server.url, '/crm/reports');
    await signInThroughForm(page);
    await page.getByRole('heading', { name: 'Reports' }).waitFor();
    // Each chart draws bars (a bar of zero draws no shape).
    for (const chart of ['Open pipeline value by stage, raw and weighted', 'Weighted forecast and won value by close month', 'Deals won and lost per owner', 'Activities per owner and kind', 'Share of SLA targets met per priority']) {
      await page.getByLabel(chart).locator('.recharts-bar-rectangle path').first().waitFor();
    }
    // The reply logged on the ticket page is the signed-in owner's.
    await page.getByLabel('Activities per owner and kind').getByText(OWNER.email).waitFor();
    await page.getByLabel('Win rate', { exact: true }).getByText('100%').waitFor();
    await page.getByText('Open: $15,000 · weighted $6,000').waitFor();
    const sla = page.getByRole('table', { name: 'SLA compliance per priority' });
    await sla.getByRole('row', { name: /Urgent/ }).getByText('0%', { exact: true }).waitFor();
    await screenshot(page, 'reports');
    expect(problems).toEqual([]);
    await context.close();
  });
});
