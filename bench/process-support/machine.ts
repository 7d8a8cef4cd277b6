import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { tmpFileSystem } from '../support/stores.js';

/** What the figures were measured on, for the report: they are absolute and drift with the machine. */
export function machine() {
  return {
    date: new Date().toISOString(),
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    tmp: tmpFileSystem(),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** Busy share of all CPUs over `ms`, from /proc/stat (null off Linux). */
export async function busyShare(ms: number): Promise<number | null> {
  const sample = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: fields[3] + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
  };
  try {
    const a = sample();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const b = sample();
    return b.total === a.total ? 0 : 1 - (b.idle - a.idle) / (b.total - a.total);
  } catch {
    return null;
  }
}

/**
 * Waits up to `maxMs` for the machine to go quiet before a measurement (other sessions share these two
 * cores); returns the busy share it last saw, which the report prints next to the figure.
 */
export async function quietMachine(maxMs: number, threshold = 0.15): Promise<number | null> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const busy = await busyShare(1000);
    if (busy === null || busy <= threshold || Date.now() > deadline) return busy;
  }
}

/** Percentiles of a list of numbers (sorted in place). */
export function percentiles(values: number[], ps = [0.5, 0.95, 0.99]): Record<string, number> & { max: number; n: number } {
  values.sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const p of ps) out[`p${Math.round(p * 1000) / 10}`] = values.length ? values[Math.min(values.length - 1, Math.ceil(p * values.length) - 1)] : NaN;
  return Object.assign(out, { max: values[values.length - 1] ?? NaN, n: values.length });
}

export const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;
