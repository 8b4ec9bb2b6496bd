/**
 * A row change's `installedOn`: the table its trigger was installed for, shown only when the
 * change names another (a partition, a renamed table), and checked like every other field.
 */
import { expect, test } from 'vitest'
import { PayloadError } from '../../../../src/listener/changes/errors.ts'
import { decodeRowChange } from '../../../../src/listener/changes/row-change.ts'

const from = (installedOn: unknown) => ({
  processId: 4242,
  channel: 'feed',
  payload: JSON.stringify({ schema: 's', table: 'part 1', installedOn, operation: 'INSERT', seq: 1, truncated: false, key: { id: 1 }, row: { id: 1 } }),
})

test('a change to a partition says which table the trigger was installed for', () => {
  expect(decodeRowChange(from({ schema: 'p"s', table: 'parent' }))).toMatchObject({ table: 'part 1', installedOn: { schema: 'p"s', table: 'parent' } })
})

test('installed on the very table, or a payload without it (an older install): no installedOn at all', () => {
  for (const change of [decodeRowChange(from({ schema: 's', table: 'part 1' })), decodeRowChange(from(undefined)), decodeRowChange(from(null))]) {
    expect(change).toMatchObject({ type: 'RowChange', table: 'part 1' })
    expect('installedOn' in change).toBe(false)
  }
})

test.each([['a string', 's.parent'], ['no table', { schema: 's' }], ['a number for a name', { schema: 's', table: 1 }]])('installedOn as %s is a PayloadError', (_, installedOn) => {
  const change = decodeRowChange(from(installedOn))
  expect(change).toBeInstanceOf(PayloadError)
  expect((change as PayloadError).message).toMatch(/"(installedOn|table)" is/)
})
