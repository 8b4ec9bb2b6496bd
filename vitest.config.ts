// Vitest: every test/**/*.test.ts. Files under test/integration/ get a real PostgreSQL, started
// once for the whole run by test/harness/global-setup.ts and described through inject('pg');
// a run of unit tests alone starts none (vitest sets up only the projects it has files for).

import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Forks, not threads: tests open sockets and may kill connections; a crash stays in its process.
    pool: 'forks',
    // Integration tests wait on a real server (reconnects, backoff): seconds, not milliseconds.
    testTimeout: 20_000,
    hookTimeout: 30_000,
    teardownTimeout: 30_000,
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
          globalSetup: ['test/harness/global-setup.ts'],
        },
      },
    ],
  },
})
