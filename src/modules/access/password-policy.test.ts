import { describe, expect, it } from 'vitest';
import { commonPasswords, passwordProblem } from './password-policy.js';

const reason = (password: string, email = 'someone@example.com') => passwordProblem(password, email)?.reason ?? null;

describe('the password policy', () => {
  it('ships the 10,000 most common passwords', () => {
    expect(commonPasswords().size).toBe(10_000);
    expect(commonPasswords().has('123456')).toBe(true);
    expect(commonPasswords().has('qwerty123456')).toBe(true);
  });

  it('accepts long passphrases and random strings', () => {
    for (const ok of ['correct horse battery staple', 'a long passphrase', 'xk9!mq2#pz7$', 'summer 2019 at the lake', 'dragonfly mountain 42']) {
      expect(reason(ok), ok).toBeNull();
    }
  });

  it('wants 12 characters, counted as people see them', () => {
    expect(reason('elevenchars')).toBe('too_short');
    expect(reason('ünïcödé-ok!')).toBe('too_short');
    expect(reason('ünïcödé-okay')).toBeNull();
  });

  it('refuses a listed password and the small variations people make of one', () => {
    for (const weak of ['qwertyuiop123', 'Password2024!', 'P@ssw0rd123456', 'iloveyou1234!', 'sunshine-sunshine', 'monkey 7 monkey 9', 'qwertyqwerty', '1qaz2wsx3edc']) {
      expect(reason(weak), weak).toBe('too_common');
    }
  });

  it('refuses runs and repeats of a few characters', () => {
    for (const weak of ['123456789012', 'abcdefghijkl', '987654321098', 'abababababab', 'zzzzzzzzzzzzzz']) expect(reason(weak), weak).toBe('too_common');
  });

  it('refuses a password that contains the name of its email address, whatever the case', () => {
    expect(reason('The Margaret Hamilton code', 'margaret@nasa.gov')).toBe('contains_email');
    expect(reason('a long passphrase here', 'al@nasa.gov')).toBeNull();
  });

  it('says what is wrong in words a person can act on', () => {
    expect(passwordProblem('short one', 'x@y.zz')?.message).toBe('A password needs at least 12 characters (this one has 9); a few unrelated words make a good one.');
    expect(passwordProblem('password1234', 'x@y.zz')?.message).toContain('one of the 10,000 most common passwords');
  });
});
