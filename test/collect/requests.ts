import { randomUUID } from 'node:crypto';
import { logRows, type TestServer } from '../support/server.js';

/** `Authorization: Basic base64(writeKey:)`, or without the colon as old clients send it. */
export function basicAuth(writeKey: string, { colon = true } = {}): string {
  return `Basic ${Buffer.from(colon ? `${writeKey}:` : writeKey).toString('base64')}`;
}

/** POSTs to the collection API as a server-side client does: JSON, the write key as HTTP Basic. */
export function send(server: TestServer, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(server.url + path, {
    method: 'POST',
    headers: { authorization: basicAuth(server.setup.writeKey), 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? (body as RequestInit['body']) : JSON.stringify(body),
  });
}

/** A messageId no other test uses, so each test finds its own rows in a shared log. */
export const messageId = (label: string) => `${label}-${randomUUID()}`;

/** The stored events whose messageId starts with `prefix`, in log order. */
export async function storedWith(server: TestServer, prefix: string) {
  return (await logRows(server)).filter((row) => row.message_id.startsWith(prefix));
}

/** One series of a server's /metrics (`name{labels}`), 0 when it has not been reported yet; any node with a `url`. */
export async function metric(server: { url: string }, series: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
