import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const built = join(root, 'dist/web/index.html');

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * Vitest's global setup: the browser tests drive the built web app, so build it when it is missing or older
 * than its sources (`npm install` builds it on a clean clone; this covers edits made since).
 */
export default function buildWebApp(): void {
  const web = join(root, 'web');
  if (!existsSync(web)) return;
  if (existsSync(built) && statSync(built).mtimeMs >= newest(web)) return;
  try {
    createRequire(import.meta.url).resolve('vite/package.json');
  } catch {
    process.stderr.write('note: vite is not installed (run npm install), so the web app was not rebuilt; its browser tests will say so\n');
    return;
  }
  process.stderr.write('building the web app for the browser tests (npm run build:web)\n');
  execFileSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
}
