import { readdirSync, readFileSync } from 'node:fs';

/** CPU time of the whole machine so far, in ms (all cores; /proc/stat counts in USER_HZ = 100). Null off Linux. */
export function machineCpu(): { busyMs: number; totalMs: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busyMs: (total - fields[3] - fields[4]) * 10, totalMs: total * 10 };
  } catch {
    return null;
  }
}

/** CPU time used so far by the processes named `name` (e.g. the PostgreSQL server's), in ms. */
export function processesCpu(name: string): number {
  let ticks = 0;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const end = stat.lastIndexOf(')');
        if (stat.slice(stat.indexOf('(') + 1, end) !== name) continue;
        const fields = stat.slice(end + 2).split(' ');
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        // The process ended meanwhile.
      }
    }
  } catch {
    return 0;
  }
  return ticks * 10;
}

/** Busy share of all CPUs over `ms`. */
async function busyShare(ms: number): Promise<number | null> {
  const a = machineCpu();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = machineCpu();
  if (!a || !b) return null;
  return b.totalMs === a.totalMs ? 0 : (b.busyMs - a.busyMs) / (b.totalMs - a.totalMs);
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
