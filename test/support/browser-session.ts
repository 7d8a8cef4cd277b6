/**
 * A client that signs in as a browser would: it keeps the session cookie the server sets, sends it back,
 * and adds the CSRF token to its writes unless a test asks it not to.
 */
export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

export const SESSION_COOKIE = '__Host-rapport_session';

export async function request(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url + path, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

/** The session cookie a response sets: its value ('' when cleared) and its attributes, or undefined. */
export function sessionSetCookie(answer: Answer): { value: string; attributes: string[] } | undefined {
  const line = answer.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!line) return undefined;
  const [pair, ...attributes] = line.split(';').map((part) => part.trim());
  return { value: pair!.slice(SESSION_COOKIE.length + 1), attributes };
}

export interface BrowserSession {
  secret: string;
  csrfToken: string;
  signedIn: any;
  /** A call with the cookie; writes carry X-CSRF-Token unless `csrf` is null (or another token). */
  call(method: string, path: string, body?: unknown, options?: { csrf?: string | null; headers?: Record<string, string> }): Promise<Answer>;
}

export function sessionOf(url: string, secret: string, csrfToken: string, signedIn: any): BrowserSession {
  return {
    secret,
    csrfToken,
    signedIn,
    call(method, path, body, options = {}) {
      const csrf = options.csrf === undefined ? csrfToken : options.csrf;
      const headers: Record<string, string> = { cookie: `${SESSION_COOKIE}=${secret}`, ...(csrf === null ? {} : { 'x-csrf-token': csrf }), ...options.headers };
      return request(url, method, path, body, headers);
    },
  };
}

/** POST /api/v1/auth/login (or another sign-in route); the answer, and the session when it succeeded. */
export async function signIn(url: string, body: Record<string, unknown>, path = '/api/v1/auth/login', headers: Record<string, string> = {}): Promise<{ answer: Answer; session?: BrowserSession }> {
  const answer = await request(url, 'POST', path, body, headers);
  const cookie = sessionSetCookie(answer);
  if (answer.status >= 300 || !cookie?.value) return { answer };
  return { answer, session: sessionOf(url, cookie.value, answer.body.csrfToken, answer.body) };
}
