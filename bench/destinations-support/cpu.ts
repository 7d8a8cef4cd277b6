import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const TICK_MS = (() => {
  try {
    return 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  } catch {
    return 10;
  }
})();

function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - f[3] - (f[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, ms) of a process and its finished children it waited for. */
function processMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

export interface CpuWindow {
  /** Share of all cores busy over the window (0..1). */
  machine: number | null;
  /** Share of all cores used by the benchmark's own processes (Rapport, receivers, load generator). */
  ours: number;
  /** The rest: other work on the machine during the measurement. */
  others: number | null;
  /** CPU ms per process of ours. */
  perProcess: Record<string, number>;
}

/** Samples the machine's and our processes' CPU from now until `end()`, to tell our load from other sessions'. */
export function cpuWindow(pids: () => Record<string, number>) {
  const startedAt = performance.now();
  const m0 = machineTicks();
  const p0 = Object.fromEntries(Object.entries(pids()).map(([k, pid]) => [k, processMs(pid)]));
  return {
    end(): CpuWindow {
      const wallMs = performance.now() - startedAt;
      const m1 = machineTicks();
      const perProcess = Object.fromEntries(Object.entries(pids()).map(([k, pid]) => [k, Math.round(processMs(pid) - (p0[k] ?? 0))]));
      const oursMs = Object.values(perProcess).reduce((a, b) => a + b, 0);
      const ours = oursMs / (wallMs * cpus().length);
      const machine = m0 && m1 && m1.total > m0.total ? (m1.busy - m0.busy) / (m1.total - m0.total) : null;
      const r = (x: number) => Math.round(x * 1000) / 1000;
      return { machine: machine === null ? null : r(machine), ours: r(ours), others: machine === null ? null : r(Math.max(0, machine - ours)), perProcess };
    },
  };
}
