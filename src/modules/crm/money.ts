import { errors } from '../../platform/errors.js';

const KNOWN = new Set(Intl.supportedValuesOf('currency'));

/** ISO 4217 codes ICU knows (Intl.NumberFormat itself formats any three letters). */
export function checkCurrency(currency: string, field = 'currency'): void {
  if (!KNOWN.has(currency)) throw errors.validation(`"${field}" is not an ISO 4217 currency code: "${currency}".`);
}

const DIGITS = new Map<string, number>();

/** Decimal places of a currency's minor unit (JPY 0, EUR 2, KWD 3), as ICU knows them; remembered (a formatter is slow to build). */
export function minorDigits(currency: string): number {
  let digits = DIGITS.get(currency);
  if (digits === undefined) DIGITS.set(currency, (digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2));
  return digits;
}

/** An amount in minor units; refused when it has more decimals than the currency has, rather than rounded. */
export function toMinor(amount: number, currency: string, field = 'amount'): number {
  const digits = minorDigits(currency);
  const minor = Math.round(amount * 10 ** digits);
  if (Math.abs(minor / 10 ** digits - amount) > 1e-9 * Math.max(1, Math.abs(amount))) {
    throw errors.validation(`"${field}" has more decimals than ${currency} has (${digits}).`);
  }
  if (!Number.isSafeInteger(minor)) throw errors.validation(`"${field}" is too large.`);
  return minor;
}

export const fromMinor = (minor: number, currency: string) => minor / 10 ** minorDigits(currency);
