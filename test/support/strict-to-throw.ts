/**
 * Vitest setup (vitest.config.ts's setupFiles): toThrow with a message to match fails when the
 * value thrown or rejected is undefined or null. Vitest 4.1 lets `toThrow(/words/)` and
 * `rejects.toThrow('words')` pass on `throw undefined` and on a promise rejected with undefined or
 * null (vitest-dev/vitest#7260), so a bug that throws nothing in particular passed every such
 * test: a mutant that emptied the error of a failed target_session_attrs check survived this way.
 */
import { chai } from 'vitest'

chai.use((api, utils) => {
  utils.overwriteMethod(api.Assertion.prototype, 'toThrow', (original: (...args: unknown[]) => unknown) =>
    function (this: Chai.AssertionStatic, ...args: unknown[]): unknown {
      const expected = args[0]
      const promise = utils.flag(this, 'promise') as string | undefined
      if ((typeof expected === 'string' || expected instanceof RegExp) && !utils.flag(this, 'negate') && promise !== 'resolves') {
        let threw = promise === 'rejects'
        let thrown: unknown = threw ? utils.flag(this, 'object') : undefined
        const subject: unknown = utils.flag(this, 'object')
        if (!threw && typeof subject === 'function') {
          // Called once here; the original matcher then sees the same outcome again.
          try {
            const returned = (subject as () => unknown)()
            utils.flag(this, 'object', () => returned)
          } catch (error) {
            threw = true
            thrown = error
            utils.flag(this, 'object', () => {
              throw error
            })
          }
        }
        if (threw && (thrown === undefined || thrown === null)) {
          throw new api.AssertionError(`expected an error whose message matches ${String(expected)}, but ${String(thrown)} was thrown`)
        }
      }
      return original.apply(this, args)
    })
})
