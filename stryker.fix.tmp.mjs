import base from './stryker.config.mjs'
export default {
  ...base,
  mutate: [
    'src/listener/delivery.ts:110-130', 'src/listener/delivery.ts:200-232', 'src/listener/delivery.ts:250-262',
    'src/listener/subscription.ts:150-205', 'src/listener/subscription.ts:230-240', 'src/listener/subscription.ts:262-280',
    'src/listener/listener.ts:140-200',
  ],
  testFiles: ['test/unit/listener/**/*.test.ts', 'test/integration/listener-promise.test.ts'],
  incremental: false,
  reporters: ['clear-text', 'json'],
  jsonReporter: { fileName: '/tmp/stryker-fix.json' },
  tempDirName: '.stryker-tmp-fix',
  concurrency: 2,
}
