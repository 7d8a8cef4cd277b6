import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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

/** The PostgreSQL server's processes (every backend: other sessions' too, if they use the same server). */
function postgresPids(): number[] {
  const out: number[] = [];
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres') out.push(Number(d));
      } catch {
        // Gone meanwhile.
      }
    }
  } catch {
    // Not Linux.
  }
  return out;
}

export interface CpuWindow {
  /** Share of all cores busy over the window (0..1). */
  machine: number | null;
  /** Share of all cores used by the benchmark's own processes (Rapport, receivers, load generator). */
  ours: number;
  /** Share used by the PostgreSQL server (0 on SQLite): the database's work, ours when Rapport runs on it. */
  database: number;
  /** The rest: other work on the machine during the measurement. */
  others: number | null;
  /** CPU ms per process of ours, and of the database server. */
  perProcess: Record<string, number>;
}

/**
 * Samples the machine's and our processes' CPU from now until `end()`, to tell our load from other sessions';
 * with `postgres`, the PostgreSQL server's processes are counted apart (Rapport's database work).
 */
export function cpuWindow(pids: () => Record<string, number>, postgres = false) {
  const startedAt = performance.now();
  const m0 = machineTicks();
  const p0 = Object.fromEntries(Object.entries(pids()).map(([k, pid]) => [k, processMs(pid)]));
  const db0 = new Map((postgres ? postgresPids() : []).map((pid) => [pid, processMs(pid)]));
  return {
    end(): CpuWindow {
      const wallMs = performance.now() - startedAt;
      const m1 = machineTicks();
      const perProcess = Object.fromEntries(Object.entries(pids()).map(([k, pid]) => [k, Math.round(processMs(pid) - (p0[k] ?? 0))]));
      const oursMs = Object.values(perProcess).reduce((a, b) => a + b, 0);
      // A backend started during the window counts from zero; one that ended is lost (little: backends live long).
      const dbMs = (postgres ? postgresPids() : []).reduce((n, pid) => n + processMs(pid) - (db0.get(pid) ?? 0), 0);
      const cores = wallMs * cpus().length;
      const ours = oursMs / cores;
      const database = dbMs / cores;
      const machine = m0 && m1 && m1.total > m0.total ? (m1.busy - m0.busy) / (m1.total - m0.total) : null;
      const r = (x: number) => Math.round(x * 1000) / 1000;
      if (dbMs > 0) perProcess.postgres = Math.round(dbMs);
      return { machine: machine === null ? null : r(machine), ours: r(ours), database: r(database), others: machine === null ? null : r(Math.max(0, machine - ours - database)), perProcess };
    },
  };
}
