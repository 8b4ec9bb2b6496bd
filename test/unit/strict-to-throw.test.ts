/**
 * test/support/strict-to-throw.ts: toThrow with words to match refuses undefined and null as
 * what was thrown, and otherwise behaves as vitest's own.
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

describe('toThrow with a message to match', () => {
  test.each([undefined, null])('fails when %s is thrown or rejected', async (value) => {
    const thrower = () => {
      throw value
    }
    expect(await failure(() => expect(thrower).toThrow(/read-only/))).toMatch(/expected an error whose message matches \/read-only\/, but .* was thrown/)
    expect(await failure(() => expect(thrower).toThrow('read-only'))).toMatch(/but .* was thrown/)
    expect(await failure(() => expect(Promise.reject(value)).rejects.toThrow(/read-only/))).toMatch(/but .* was thrown/)
    expect(await failure(() => expect(Promise.reject(value)).rejects.toThrow('read-only'))).toMatch(/but .* was thrown/)
  })

  test('otherwise behaves as vitest\'s own', async () => {
    let calls = 0
    const thrower = () => {
      calls++
      throw new RangeError('the session is read-only')
    }
    expect(thrower).toThrow(/read-only/)
    expect(calls).toBe(1) // the function is called once, not once per check
    expect(thrower).toThrow('read-only')
    await expect(Promise.reject(new RangeError('read-only'))).rejects.toThrow(/read-only/)
    expect(await failure(() => expect(thrower).toThrow(/standby/))).toBeDefined()
    expect(await failure(() => expect(() => 1).toThrow(/read-only/))).toBeDefined()
    expect(await failure(() => expect(Promise.reject(new Error('standby'))).rejects.toThrow('read-only'))).toBeDefined()
    expect(() => 1).not.toThrow('read-only')
    expect(() => {
      throw undefined
    }).toThrow() // no words to match: anything thrown will do, as before
  })
})
