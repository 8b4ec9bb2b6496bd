/**
 * test/support/strict-to-throw.ts: toThrow and toThrowError with words to match refuse undefined,
 * null and the other falsy values as what was thrown, and otherwise behave as vitest's own.
 */
import { describe, expect, test } from 'vitest'

/** Whether the assertion fails, and with which message. */
async function failure(assertion: () => unknown): Promise<string | undefined> {
  try {
    await assertion()
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

describe('toThrow with words to match', () => {
  test.each([undefined, null, 0, false, Number.NaN])('fails when %s is thrown or rejected', async (value) => {
    const thrower = () => {
      throw value
    }
    const refused = /^expected an error whose message matches .*, but .* was thrown$/
    expect(await failure(() => expect(thrower).toThrow(/read-only/))).toMatch(refused)
    expect(await failure(() => expect(thrower).toThrow('read-only'))).toMatch(refused)
    expect(await failure(() => expect(thrower).toThrowError('read-only'))).toMatch(refused)
    expect(await failure(() => expect(Promise.reject(value)).rejects.toThrow(/read-only/))).toMatch(refused)
    expect(await failure(() => expect(Promise.reject(value)).rejects.toThrow('read-only'))).toMatch(refused)
    expect(await failure(() => expect(thrower, 'the check').toThrow('read-only'))).toMatch(/^the check: expected an error/)
  })

  test('a thrown string is its own message, as in vitest', async () => {
    const thrower = () => {
      throw 'the session is read-only'
    }
    expect(thrower).toThrow(/read-only/)
    expect(await failure(() => expect(thrower).toThrow(/standby/))).toBeDefined()
  })

  test("otherwise vitest's own: its verdicts and its messages", async () => {
    let calls = 0
    const thrower = () => {
      calls++
      throw new RangeError('the session is read-only')
    }
    expect(thrower).toThrow(/read-only/)
    expect(calls).toBe(1) // called once per assertion
    expect(thrower).toThrow('read-only')
    await expect(Promise.reject(new RangeError('read-only'))).rejects.toThrow(/read-only/)
    expect(() => 1).not.toThrow('read-only')
    expect(() => {
      throw undefined
    }).toThrow() // no words to match: anything thrown will do, as before
    function quiet(): number {
      return 1
    }
    // The same failures, in the same words, as toThrowError's (overridden alike) and chai's.
    expect(await failure(() => expect(quiet).toThrow(/read-only/))).toBe('expected [Function quiet] to throw an error')
    expect(await failure(() => expect(thrower).toThrow(/standby/))).toMatch(/^expected \[Function thrower\] to throw error matching \/standby\/ but got 'the session is read-only'/)
    expect(await failure(() => expect(Promise.reject(new Error('standby'))).rejects.toThrow('read-only'))).toMatch(/read-only/)
  })
})
