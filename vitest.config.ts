import { defineConfig } from 'vitest/config';

// Test files run in forked workers; integration tests talk to the real MariaDB and NATS on this
// machine, each file with its own database / stream names.
//
// The network-filesystem tests run last, on their own: `netfs up` gives its proxy half a second
// to start before sshfs connects, and with both cores busy with other test files it takes longer
// (measured 1.75 s), so the mount failed ("Connection reset by peer").
const QUIET = ['test/watcher.netfs.integration.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: QUIET, sequence: { groupOrder: 0 } },
      },
      { extends: true, test: { name: 'quiet', include: QUIET, sequence: { groupOrder: 1 } } },
    ],
  },
});
