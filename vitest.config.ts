import { defineConfig } from 'vitest/config';

// Test files run in forked workers; integration tests talk to the real MariaDB and NATS on this
// machine, each file with its own database / stream names.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/global-setup.ts'],
  },
});
