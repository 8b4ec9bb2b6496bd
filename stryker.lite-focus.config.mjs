import base from './stryker.config.mjs'
export default {
  ...base,
  mutate: ['src/listener/lite.ts', 'src/protocol/lite.ts', 'src/protocol/io/lite-node-link.ts'],
  testFiles: ['test/integration/lite.test.ts', 'test/integration/lite-races.test.ts'],
  incremental: false,
  reporters: ['clear-text', 'progress'],
  tempDirName: '/tmp/stryker-focus',
  concurrency: 2,
}
