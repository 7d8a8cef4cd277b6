/**
 * The two public APIs the demo loads through, over plain fetch: the management API (`/api/v1`, an API key
 * or a signed-in session) and the collection API (`/v1/batch`, the source's write key).
 */

export class DemoApiError extends Error {
  constructor(readonly method: string, readonly path: string, readonly status: number, readonly body: unknown) {
    const detail = (body as { error?: { message?: string } } | null)?.error?.message ?? (typeof body === 'string' ? body : JSON.stringify(body));
    super(`${method} ${path} answered ${status}: ${detail}`);
  }
}

export type Credentials = { apiKey: string } | { session: string; csrfToken: string };

export interface ManagementClient {
  call<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** Like call, but answers undefined for a 404 instead of throwing. */
  find<T = any>(path: string): Promise<T | undefined>;
}

async function parsed(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

export function managementClient(baseUrl: string, credentials: Credentials): ManagementClient {
  const headers = (withBody: boolean, method: string): Record<string, string> => {
    const h: Record<string, string> = withBody ? { 'content-type': 'application/json' } : {};
    if ('apiKey' in credentials) h.authorization = `Bearer ${credentials.apiKey}`;
    else {
      h.cookie = credentials.session;
      if (method !== 'GET') h['x-csrf-token'] = credentials.csrfToken;
    }
    return h;
  };
  async function request(method: string, path: string, body?: unknown) {
    const res = await fetch(`${baseUrl}/api/v1${path}`, { method, headers: headers(body !== undefined, method), body: body === undefined ? undefined : JSON.stringify(body) });
    return { res, body: await parsed(res) };
  }
  return {
    async call(method, path, body) {
      const answer = await request(method, path, body);
      if (!answer.res.ok) throw new DemoApiError(method, path, answer.res.status, answer.body);
      return answer.body as any;
    },
    async find(path) {
      const answer = await request('GET', path);
      if (answer.res.status === 404) return undefined;
      if (!answer.res.ok) throw new DemoApiError('GET', path, answer.res.status, answer.body);
      return answer.body as any;
    },
  };
}

/** A public call without credentials (first-run setup, sign-in): the answer, its body and the session cookie it set. */
export async function publicCall(baseUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; session?: string }> {
  const res = await fetch(`${baseUrl}/api/v1${path}`, {
    method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('__Host-rapport_session='));
  return { status: res.status, body: await parsed(res), session: cookie };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends calls to `/v1/batch` in batches (the API takes 500 KB a request), a few requests at a time.
 * A 429 or 503 (the log is behind) is retried after the Retry-After the server names.
 */
export async function sendBatches(baseUrl: string, writeKey: string, calls: object[], options: { batchSize?: number; concurrency?: number; onBatch?: (sent: number) => void } = {}): Promise<{ accepted: number; rejected: number }> {
  const size = options.batchSize ?? 400;
  const batches: object[][] = [];
  for (let i = 0; i < calls.length; i += size) batches.push(calls.slice(i, i + size));
  const authorization = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  let accepted = 0;
  let rejected = 0;
  let sent = 0;
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      for (let attempt = 1; ; attempt++) {
        const res = await fetch(`${baseUrl}/v1/batch`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });
        const body = (await parsed(res)) as { accepted?: number; rejected?: unknown[] };
        if ((res.status === 429 || res.status === 503) && attempt < 20) {
          await sleep(Math.min(10, Number(res.headers.get('retry-after')) || 1) * 1000);
          continue;
        }
        if (!res.ok) throw new DemoApiError('POST', '/v1/batch', res.status, body);
        accepted += body.accepted ?? 0;
        rejected += body.rejected?.length ?? 0;
        break;
      }
      sent += batch.length;
      options.onBatch?.(sent);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 3, batches.length) }, worker));
  return { accepted, rejected };
}

/** Runs `work` over the items, `concurrency` at a time, keeping their order in the results. */
export async function inParallel<T, R>(items: T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  }));
  return results;
}
