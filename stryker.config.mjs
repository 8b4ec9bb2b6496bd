// StrykerJS: mutation testing of src/listener (`npm run mutation`). Each mutant is one small change
// to the code; a test that then fails kills it, and the score is the share killed. The listener's
// tests include its integration tests, which need the real PostgreSQL of test/harness/global-setup.ts:
// the vitest runner runs both projects of vitest.config.ts, so each Stryker worker starts one cluster.

// The model test (listener-model.test.ts) replays CI's fixed sequences unless told otherwise: a
// mutant's verdict must not depend on which sequences were drawn, so a random seed is overridden.
process.env.PGLISTEN_MODEL_SEED = '20261204'

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // vitest.config.ts with the unit tests first: a mutant's run stops at its first failing test.
  vitest: { configFile: 'vitest.stryker.config.ts' },
  // Every file of the listener, changes/ included: the headline score is over all of src/listener.
  mutate: ['src/listener/**/*.ts'],
  // The tests that exercise src/listener. The CLI's integration tests (cli-*.test.ts) would import
  // nothing mutated in their own process (the CLI runs as a child), so they could kill no mutant.
  testFiles: [
    'test/unit/listener/**/*.test.ts',
    'test/unit/changes/**/*.test.ts',
    'test/integration/listener*.test.ts',
    'test/integration/changes-*.test.ts',
  ],
  // Which tests cover each mutant is recorded in the first run; a mutant then runs only those.
  coverageAnalysis: 'perTest',
  // Static mutants (module-level values such as a table of constants) are reported Survived
  // whatever the tests do when testFiles is set: Stryker 9.6 activates them only after the module
  // was imported (stryker-js issue 6144; here `operations = {}` in tcn-payload.ts "survived" a
  // suite that fails whole under it). Ignored, they are at least not counted as false survivors.
  ignoreStatic: true,
  reporters: ['clear-text', 'html', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  // Each worker is a vitest running one test file at a time, with its own PostgreSQL. On 2 cores,
  // 4 workers: a worker mostly waits (on the server, on reconnect and heartbeat timers) and was
  // measured at about a fifth of a core, so 2 left the machine idle and took twice as long.
  concurrency: 4,
  // Integration tests wait for reconnects and backoff on a real server: a mutant's time limit is
  // 2 × the tests' own time + 20 s, and the first run (every test, with coverage) gets 15 minutes.
  timeoutMS: 20_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 15,
  tempDirName: '.stryker-tmp',
  // Not copied into a sandbox: other runs' sandboxes (a run given another --tempDirName). The
  // defaults (node_modules, .git, reports, this run's own tempDirName) are ignored too.
  ignorePatterns: ['/.stryker-tmp*/'],
  // Results are kept in reports/stryker-incremental.json: a later run tests again only the mutants
  // whose code or tests changed (`-- --force` tests all). stryker.unit.config.mjs shares the file.
  incremental: true,
}
