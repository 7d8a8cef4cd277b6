import type { Kysely } from 'kysely';
import type { Log } from '../../platform/log.js';

/**
 * The privacy module's background loop: runs waiting requests one after another, and the periodic work
 * (`periodic`: retention, expired exports) every `periodMs`. `poke` wakes it at once (a request was made).
 */
export function createPrivacyWorker(deps: { db: Kysely<any>; log: Log; runNext(db: Kysely<any>): Promise<boolean>; periodic(db: Kysely<any>): Promise<void>; pollMs: number; periodMs: number }) {
  let running = false;
  let loop: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let lastPeriodic = 0;

  async function turn(): Promise<boolean> {
    let did = false;
    try {
      if (Date.now() - lastPeriodic >= deps.periodMs) {
        lastPeriodic = Date.now();
        await deps.periodic(deps.db);
      }
    } catch (error) {
      deps.log.error({ err: error }, 'privacy: periodic work (retention) failed; retrying at the next period');
    }
    try {
      did = await deps.runNext(deps.db);
    } catch (error) {
      deps.log.error({ err: error }, 'privacy: running a request failed; retrying');
    }
    return did;
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = (async () => {
        while (running) {
          if (!(await turn()) && running) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              timer = setTimeout(resolve, deps.pollMs);
            });
          }
        }
      })();
    },
    poke: () => wake?.(),
    async stop() {
      running = false;
      clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}
