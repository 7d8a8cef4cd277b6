import { randomBytes, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPassword, needsRehash, verifyPassword } from './password.js';

describe('password hashes', () => {
  it('are scrypt with a salt of their own and today\'s parameters, and verify only the right password', async () => {
    const [a, b] = [await hashPassword('correct horse battery staple'), await hashPassword('correct horse battery staple')];
    expect(a).toMatch(/^scrypt\$131072\$8\$1\$[\w+/=]{24}\$[\w+/=]{44}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery staple', a)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', a)).toBe(false);
    expect(needsRehash(a)).toBe(false);
  });

  it('still verify when made with weaker parameters, and say they need redoing', async () => {
    const salt = randomBytes(16);
    const key = scryptSync('an older password hash', salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const old = ['scrypt', 2 ** 14, 8, 1, salt.toString('base64'), key.toString('base64')].join('$');
    expect(await verifyPassword('an older password hash', old)).toBe(true);
    expect(needsRehash(old)).toBe(true);
  });

  it('answer false, after the same work, when there is no hash or a malformed one', async () => {
    expect(await verifyPassword('anything at all', undefined)).toBe(false);
    expect(await verifyPassword('anything at all', 'scrypt$0$8$1$c2FsdA==$a2V5')).toBe(false);
    expect(await verifyPassword('anything at all', 'bcrypt$whatever')).toBe(false);
  });
});
