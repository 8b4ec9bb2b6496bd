/**
 * Vitest setup (vitest.config.ts's setupFiles): toThrow and toThrowError with words to match fail
 * when what was thrown or rejected is undefined, null or another falsy value. Vitest 4.1 lets
 * `toThrow(/words/)` and `rejects.toThrow('words')` pass on `throw undefined` and on a promise
 * rejected with undefined (vitest-dev/vitest#7260): chai compares the message only of a truthy
 * value. So a bug that throws nothing in particular passed every such test: a mutant that emptied
 * the error of a failed target_session_attrs check survived this way.
 */
import { chai } from 'vitest'

chai.use((api, utils) => {
  for (const name of ['toThrow', 'toThrowError']) {
    utils.overwriteMethod(api.Assertion.prototype, name, (original: (...args: unknown[]) => unknown) =>
      function (this: Chai.AssertionStatic, ...args: unknown[]): unknown {
        // Vitest's own first, with its own messages; it leaves what was thrown as the object.
        const result = original.apply(this, args)
        const expected = args[0]
        if ((typeof expected !== 'string' && !(expected instanceof RegExp)) || utils.flag(this, 'negate')) return result
        const thrown: unknown = utils.flag(this, 'object')
        // A string is its own message, which chai has compared; any other falsy value has none.
        if (!thrown && typeof thrown !== 'string') {
          const context = utils.flag(this, 'message') as string | undefined
          const message = `expected an error whose message matches ${String(expected)}, but ${String(thrown)} was thrown`
          throw new api.AssertionError(context ? `${context}: ${message}` : message, undefined, utils.flag(this, 'ssfi') as () => void)
        }
        return result
      })
  }
})
