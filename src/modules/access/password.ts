import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// scrypt (OWASP: N=2^17, r=8, p=1). Each hash is `scrypt$N$r$p$salt$key` with a 16-byte salt of its own, so
// these parameters can be raised: hashes made with lower ones still verify and are redone at the next sign-in.
const PARAMS = { N: 2 ** 17, r: 8, p: 1, keylen: 32 };
type Params = typeof PARAMS;

function derive(password: string, salt: Buffer, params: Params): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; twice that leaves room without inviting a stored N of 2^30.
  const maxmem = Math.max(32 * 1024 * 1024, 256 * params.N * params.r);
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, params.keylen, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

function parse(stored: string): { params: Params; salt: Buffer; hash: Buffer } | undefined {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  const params = { N: Number(n), r: Number(r), p: Number(p), keylen: 0 };
  if (scheme !== 'scrypt' || !salt || !hash || ![params.N, params.r, params.p].every((v) => Number.isInteger(v) && v > 0)) return undefined;
  if (params.N > 2 ** 20 || params.r > 32 || params.p > 16) return undefined;
  const key = Buffer.from(hash, 'base64');
  return { params: { ...params, keylen: key.length }, salt: Buffer.from(salt, 'base64'), hash: key };
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/**
 * True when `password` matches `stored`. With no stored hash (no such user) it still does the same work
 * and answers false, so a sign-in for an unknown email takes as long as one with a wrong password.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const parsed = stored ? parse(stored) : undefined;
  if (!parsed) {
    await derive(password, randomBytes(16), PARAMS);
    return false;
  }
  const key = await derive(password, parsed.salt, parsed.params);
  return key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash);
}

/** A hash made with weaker parameters than today's, to be redone while the password is at hand. */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  return !parsed || parsed.params.N < PARAMS.N || parsed.params.r < PARAMS.r || parsed.params.p < PARAMS.p || parsed.hash.length < PARAMS.keylen;
}
