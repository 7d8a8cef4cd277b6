import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The browser tests need the built web app: built here when missing or stale.
    globalSetup: ['test/support/web-build.ts'],
    // Integration suites start real servers and databases; files run in parallel, tests within a file in order.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
