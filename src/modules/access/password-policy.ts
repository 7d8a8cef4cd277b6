import { readFileSync } from 'node:fs';
import { errors } from '../../platform/errors.js';

export const MIN_PASSWORD_LENGTH = 12;
// scrypt reads any length, but a megabyte "password" is only a way to burn our CPU.
export const MAX_PASSWORD_LENGTH = 1_000;

let common: ReadonlySet<string> | undefined;

/** The shipped list (see the header of common-passwords.txt for its source), read once; start-up reads it, so a build without it fails at once. */
export function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(
    readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#')),
  );
  return common;
}

const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's', '!': 'i' };

/** The smallest unit the whole string repeats ("qwertyqwerty" -> "qwerty"), or the string itself. */
function repeatedUnit(value: string): string {
  for (let size = 1; size <= value.length / 2; size++) {
    if (value.length % size === 0 && value.slice(0, size).repeat(value.length / size) === value) return value.slice(0, size);
  }
  return value;
}

/** "123456789012", "abcdefghijkl", "987654321098": each character one step from the last (digits wrap). */
function isRun(value: string): boolean {
  const codes = [...value].map((c) => c.codePointAt(0)!);
  const stepOf = (i: number) => {
    const d = codes[i]! - codes[i - 1]!;
    return Math.abs(d) === 9 && /\d/.test(value[i]!) && /\d/.test(value[i - 1]!) ? -Math.sign(d) : d;
  };
  const step = stepOf(1);
  if (step !== 1 && step !== -1) return false;
  for (let i = 2; i < codes.length; i++) if (stepOf(i) !== step) return false;
  return true;
}

/**
 * The forms of a password looked up in the list: as typed (lower-cased, spaces removed), with l33t
 * spelling undone, and each with the digits and symbols people pad a common word with cut off
 * ("Password2024!" -> "password") or taken out ("sun 4 sunshine" -> "sunsunshine"), and a repeated word
 * reduced to one ("qwertyqwerty" -> "qwerty").
 */
export function commonForms(password: string): Set<string> {
  const typed = password.normalize('NFKC').toLowerCase().replace(/\s+/g, '');
  const spellings = [typed, [...typed].map((c) => LEET[c] ?? c).join(''), typed.replace(/1/g, 'l')];
  const forms = new Set<string>();
  for (const spelling of spellings) {
    for (const form of [spelling, spelling.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, ''), spelling.replace(/[^\p{L}]+/gu, '')]) {
      if (!form) continue;
      forms.add(form);
      forms.add(repeatedUnit(form));
    }
  }
  return forms;
}

export type PasswordProblem = 'too_short' | 'too_long' | 'too_common' | 'contains_email';

/** Why a password is refused, or null. NIST SP 800-63B's rules: length, a list of known passwords, no composition rules. */
export function passwordProblem(password: string, email: string): { reason: PasswordProblem; message: string } | null {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) {
    return { reason: 'too_short', message: `A password needs at least ${MIN_PASSWORD_LENGTH} characters (this one has ${length}); a few unrelated words make a good one.` };
  }
  if (length > MAX_PASSWORD_LENGTH) return { reason: 'too_long', message: `A password may have at most ${MAX_PASSWORD_LENGTH} characters.` };
  const localPart = email.trim().toLowerCase().split('@')[0] ?? '';
  // A one- or two-letter local part would refuse half the dictionary; three letters and up is a name.
  if (localPart.length >= 3 && password.normalize('NFKC').toLowerCase().includes(localPart)) {
    return { reason: 'contains_email', message: `A password must not contain the name of its email address ("${localPart}").` };
  }
  const list = commonPasswords();
  const typed = password.toLowerCase();
  if (new Set(typed).size < 4 || isRun(typed) || [...commonForms(password)].some((form) => list.has(form))) {
    return {
      reason: 'too_common',
      message: 'This password is too easy to guess: it is one of the 10,000 most common passwords, a small variation of one, or repeats a few characters. Choose another; a few unrelated words make a good one.',
    };
  }
  return null;
}

/** Throws a validation error naming the problem (details.reason) when the password is refused. */
export function assertPasswordAllowed(password: string, email: string): void {
  const problem = passwordProblem(password, email);
  if (problem) throw errors.validation(problem.message, { field: 'password', reason: problem.reason });
}
