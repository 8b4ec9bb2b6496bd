// StrykerJS over src/listener with the unit tests alone (`npm run mutation:unit`): no PostgreSQL,
// minutes rather than hours. Both configs keep their results in one incremental file, so running
// this first makes `npm run mutation` reuse every mutant a unit test killed and run the
// integration tests only on what the unit tests left alive or never reached.
import base from './stryker.config.mjs'

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  testFiles: base.testFiles.filter((glob) => glob.startsWith('test/unit/')),
  // Unit tests keep a core busy: one worker per core.
  concurrency: 2,
  htmlReporter: { fileName: 'reports/mutation/unit.html' },
}
