/**
 * ChangeDecoder (src/replication/changes.ts): pgoutput messages in, ReplicationChanges out.
 * Here, what a row and its key are made of; the stream's order and acknowledgements are
 * stream-model.test.ts's.
 */
import { expect, test } from 'vitest'
import { BodyReader } from '../../../src/protocol/bytes/reader.ts'
import { ProtocolViolationError } from '../../../src/protocol/errors.ts'
import type { PgoutputMessage } from '../../../src/protocol/replication/pgoutput-messages.ts'
import { ChangeDecoder, type Taken } from '../../../src/replication/changes.ts'
import { createValueParser } from '../../../src/replication/values.ts'
import { pgoutputBytes } from '../../support/pgoutput-bytes.ts'

/** A decoder fed messages as the server would send them; what it hands on, in `taken`. */
function decoder(): { take(message: PgoutputMessage): void; taken: Taken[] } {
  const taken: Taken[] = []
  const changes = new ChangeDecoder(createValueParser(), (t) => taken.push(t))
  return {
    taken,
    take(message) {
      const bytes = pgoutputBytes(message)
      changes.take(new BodyReader().reset(bytes, 0, bytes.length), 0x100n)
    },
  }
}

// Found by review: rows were built by assignment, so a column named __proto__ was dropped (a
// text value) or became the row's prototype (a json value, whose keys then seemed the row's).
test('a column named __proto__ is a column like any other, in the row and in the key', () => {
  const d = decoder()
  d.take({ type: 'Begin', finalLsn: 0x200n, commitTime: 0n, xid: 7 })
  d.take({
    type: 'Relation', relationOid: 1, namespace: 'public', relationName: 't', replicaIdentity: 'f',
    columns: [
      { flags: 1, isKey: true, name: 'id', typeOid: 23, typeModifier: -1 },
      { flags: 1, isKey: true, name: '__proto__', typeOid: 3802, typeModifier: -1 }, // jsonb
      { flags: 0, isKey: false, name: 'note', typeOid: 23, typeModifier: -1 }, // int4, null here: not parsed
    ],
  })
  d.take({ type: 'Insert', relationOid: 1, newTuple: ['1', '{"polluted": true}', null] })
  const insert = d.taken.map((t) => t.change).find((c) => c.kind === 'insert')
  if (insert?.kind !== 'insert') throw new Error('no insert was handed on')
  expect(Object.entries(insert.row)).toEqual([['id', 1], ['__proto__', { polluted: true }], ['note', null]])
  expect(Object.entries(insert.key)).toEqual([['id', 1], ['__proto__', { polluted: true }]])
  expect(Object.getPrototypeOf(insert.row)).toBe(Object.prototype)
  expect('polluted' in insert.row).toBe(false)
  // A property like the others: the application may change it, or delete it.
  expect(Object.getOwnPropertyDescriptor(insert.row, '__proto__')).toEqual({ value: { polluted: true }, enumerable: true, writable: true, configurable: true })
})

test('a tuple whose column count is not its relation\'s is a ProtocolViolationError', () => {
  const d = decoder()
  d.take({ type: 'Begin', finalLsn: 0x200n, commitTime: 0n, xid: 7 })
  d.take({ type: 'Relation', relationOid: 1, namespace: 'public', relationName: 't', replicaIdentity: 'd', columns: [{ flags: 1, isKey: true, name: 'id', typeOid: 23, typeModifier: -1 }] })
  expect(() => d.take({ type: 'Insert', relationOid: 1, newTuple: ['1', '2'] })).toThrow(new ProtocolViolationError('a tuple of 2 columns for public.t, described with 1'))
})
