import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineStore } from '../support/engines.js';

/**
 * A real, small file system (tmpfs) for the embedded store, so a test can fill it up or make it read-only as
 * a full or failed disk would be. Mounting needs root; `available()` says whether this machine allows it.
 */
export interface SmallFileSystem {
  /** An embedded store whose data directory is on this file system. */
  store: EngineStore;
  /** Writes a filler file until the file system refuses a single byte more (ENOSPC). */
  fill(): void;
  /** Removes the filler: space returns. */
  free(): void;
  remount(mode: 'ro' | 'rw'): void;
  unmount(): void;
}

export function smallFileSystemAvailable(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  try {
    const probe = mountTmpfs(1);
    execFileSync('umount', [probe]);
    rmSync(probe, { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}

function mountTmpfs(megabytes: number): string {
  const at = mkdtempSync(join(tmpdir(), 'rapport-smallfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m,mode=0755`, 'tmpfs', at]);
  return at;
}

export function smallFileSystem(megabytes: number): SmallFileSystem {
  const at = mountTmpfs(megabytes);
  const dataDir = join(at, 'data');
  mkdirSync(dataDir);
  const filler = join(at, 'filler');
  let mounted = true;
  const unmount = () => {
    if (!mounted) return;
    mounted = false;
    execFileSync('umount', ['-l', at]);
    rmSync(at, { recursive: true, force: true });
  };
  return {
    store: { dataDir, drop: async () => unmount() },
    fill() {
      const fd = openSync(filler, 'a');
      try {
        // Large writes first, then smaller ones, down to a byte: the file system ends with nothing left.
        for (let chunk = 1 << 20; chunk >= 1; chunk >>= 2) {
          const buffer = Buffer.alloc(chunk, 0x61);
          for (;;) {
            try {
              writeSync(fd, buffer);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    remount: (mode) => execFileSync('mount', ['-o', `remount,${mode}`, at]),
    unmount,
  };
}
