import { readFileSync } from 'node:fs';

/** Busy share of all CPUs over `ms`, from /proc/stat (null off Linux). */
async function busyShare(ms: number): Promise<number | null> {
  const sample = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0);
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
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
 * Waits (up to `maxMs`) until the machine is idle before a measurement: other work on these two cores
 * (a test run, a compiler) moves one side of a pair and not the other. Returns the busy share it last saw.
 */
export async function waitForIdle(maxMs: number, threshold = 0.1): Promise<number | null> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const busy = await busyShare(1000);
    if (busy === null || busy <= threshold || Date.now() > deadline) return busy;
  }
}
