// Vitest: every test/**/*.test.ts. Files under test/integration/ get a real PostgreSQL, started
// once for the whole run by test/harness/global-setup.ts and described through inject('pg');
// a run of unit tests alone starts none (vitest sets up only the projects it has files for).
// Before it, test/harness/temp-folder.ts gives the run a temporary folder of its own (TMPDIR,
// for every worker: vitest runs all global setups before it starts any), and fails the run if
// anything named pglisten-* is left in it at the end. Unit tests make no temporary files.

import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Forks, not threads: tests open sockets and may kill connections; a crash stays in its process.
    pool: 'forks',
    // Integration tests wait on a real server (reconnects, backoff): seconds, not milliseconds.
    testTimeout: 20_000,
    hookTimeout: 30_000,
    teardownTimeout: 30_000,
    // toThrow('words') and rejects.toThrow(/words/) fail on undefined and null (vitest-dev/vitest#7260).
    setupFiles: ['test/support/strict-to-throw.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/integration/**'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // In this order: teardowns run in reverse, so the cluster is gone before the check.
          globalSetup: ['test/harness/temp-folder.ts', 'test/harness/global-setup.ts'],
        },
      },
    ],
  },
})
