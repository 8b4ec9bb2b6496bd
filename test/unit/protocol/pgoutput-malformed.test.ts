/**
 * What decodePgoutput refuses, and how it names the fault: a body that ends early (at every
 * field, the field is named), a byte too many, an unknown type, a bad tuple kind or marker, a
 * negative length or count, text that is not UTF-8, and the checks proto.c's readers make
 * (flags other than 0, unset LSNs and xids). Every refusal is a ProtocolViolationError.
 */
import { describe, expect, test } from 'vitest'
import { BodyReader } from '../../../src/protocol/bytes/reader.ts'
import { ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { decodePgoutput, type PgoutputContext } from '../../../src/protocol/replication/pgoutput/decode.ts'
import type { PgoutputMessage } from '../../../src/protocol/replication/pgoutput-messages.ts'
import { char, cstring, int16, int32, int64 } from '../../support/pgoutput-bytes.ts'
import { ascii, bytes } from '../../support/wire.ts'

const outside: PgoutputContext = { inStream: false, parallelAbort: false }
const inStream: PgoutputContext = { inStream: true, parallelAbort: false }
const parallel: PgoutputContext = { inStream: false, parallelAbort: true }

function decode(wire: Uint8Array | readonly number[], context: PgoutputContext = outside): PgoutputMessage {
  const data = Uint8Array.from(wire)
  return decodePgoutput(new BodyReader().reset(data, 0, data.length), context)
}

const refusal = (message: string) => new ProtocolViolationError(message)
const endsEarly = (what: string) => refusal(`${what}: the message ends too early`)
const noNul = (what: string) => refusal(`${what}: missing NUL terminator`)

/** A field: the name the decoder gives it in errors, its bytes, and whether it is a String (its bytes end in its NUL). */
type Field = readonly [what: string, bytes: readonly number[], string?: 'String']

/** A valid message as its fields, the context to decode it in, and the name its end check uses. */
interface Layout {
  readonly name: string
  readonly context: PgoutputContext
  readonly fields: readonly Field[]
}

const type = (c: string): Field => ['pgoutput message type', char(c)]
const lsn = (what: string): Field => [what, int64(0x16_b374_d8f0n)]
const time = (what: string): Field => [what, int64(849_748_982_345_678n)]
const xid = (what: string): Field => [what, int32(800)]
const str = (what: string, text: string): Field => [what, cstring(text), 'String']

const layouts: readonly Layout[] = [
  { name: 'Begin', context: outside, fields: [type('B'), lsn('Begin final LSN'), time('Begin commit time'), xid('Begin xid')] },
  { name: 'Commit', context: outside, fields: [type('C'), ['Commit flags', [0]], lsn('Commit LSN'), lsn('Commit end LSN'), time('Commit commit time')] },
  { name: 'Origin', context: outside, fields: [type('O'), lsn('Origin commit LSN'), str('Origin name', 'pg_1')] },
  {
    name: 'Message', context: inStream,
    fields: [type('M'), xid('Message xid'), ['Message flags', [1]], lsn('Message LSN'), str('Message prefix', 'p'), ['Message content length', int32(2)], ['Message content', [7, 8]]],
  },
  {
    name: 'Relation', context: inStream,
    fields: [type('R'), xid('Relation xid'), ['Relation OID', int32(16389)], str('Relation namespace', 'public'), str('Relation name', 'jobs'), ['Relation replica identity', char('d')], ['Relation column count', int16(0)]],
  },
  { name: 'Type', context: inStream, fields: [type('Y'), xid('Type xid'), ['Type OID', int32(16400)], str('Type namespace', 'public'), str('Type name', 'mood')] },
  { name: 'Insert', context: inStream, fields: [type('I'), xid('Insert xid'), ['Insert relation OID', int32(16389)], ['Insert tuple marker', char('N')], ['Insert new tuple', int16(0)]] },
  {
    name: 'Update', context: inStream,
    fields: [type('U'), xid('Update xid'), ['Update relation OID', int32(16389)], ['Update tuple marker', char('K')], ['Update old tuple', int16(0)], ['Update new tuple marker', char('N')], ['Update new tuple', int16(0)]],
  },
  { name: 'Update', context: outside, fields: [type('U'), ['Update relation OID', int32(16389)], ['Update tuple marker', char('N')], ['Update new tuple', int16(0)]] },
  { name: 'Delete', context: inStream, fields: [type('D'), xid('Delete xid'), ['Delete relation OID', int32(16389)], ['Delete tuple marker', char('O')], ['Delete old tuple', int16(0)]] },
  {
    name: 'Truncate', context: inStream,
    fields: [type('T'), xid('Truncate xid'), ['Truncate relation count', int32(2)], ['Truncate options', [0]], ['Truncate relation OID', int32(16389)], ['Truncate relation OID', int32(16390)]],
  },
  { name: 'StreamStart', context: outside, fields: [type('S'), xid('StreamStart xid'), ['StreamStart first segment', [1]]] },
  { name: 'StreamStop', context: inStream, fields: [type('E')] },
  {
    name: 'StreamCommit', context: outside,
    fields: [type('c'), xid('StreamCommit xid'), ['StreamCommit flags', [0]], lsn('StreamCommit commit LSN'), lsn('StreamCommit end LSN'), time('StreamCommit commit time')],
  },
  { name: 'StreamAbort', context: outside, fields: [type('A'), xid('StreamAbort xid'), xid('StreamAbort subxid')] },
  { name: 'StreamAbort', context: parallel, fields: [type('A'), xid('StreamAbort xid'), xid('StreamAbort subxid'), lsn('StreamAbort abort LSN'), time('StreamAbort abort time')] },
  {
    name: 'BeginPrepare', context: outside,
    fields: [type('b'), lsn('BeginPrepare prepare LSN'), lsn('BeginPrepare end LSN'), time('BeginPrepare prepare time'), xid('BeginPrepare xid'), str('BeginPrepare gid', 'g')],
  },
  ...(['Prepare', 'StreamPrepare'] as const).map((name): Layout => ({
    name, context: outside,
    fields: [type(name === 'Prepare' ? 'P' : 'p'), [`${name} flags`, [0]], lsn(`${name} prepare LSN`), lsn(`${name} end LSN`), time(`${name} prepare time`), xid(`${name} xid`), str(`${name} gid`, 'g')],
  })),
  {
    name: 'CommitPrepared', context: outside,
    fields: [type('K'), ['CommitPrepared flags', [0]], lsn('CommitPrepared commit LSN'), lsn('CommitPrepared end LSN'), time('CommitPrepared commit time'), xid('CommitPrepared xid'), str('CommitPrepared gid', 'g')],
  },
  {
    name: 'RollbackPrepared', context: outside,
    fields: [
      type('r'), ['RollbackPrepared flags', [0]], lsn('RollbackPrepared prepare end LSN'), lsn('RollbackPrepared rollback end LSN'),
      time('RollbackPrepared prepare time'), time('RollbackPrepared rollback time'), xid('RollbackPrepared xid'), str('RollbackPrepared gid', 'g'),
    ],
  },
]

const wireOf = (layout: Layout): number[] => layout.fields.flatMap(([, b]) => b)
const label = (layout: Layout): string => `${layout.name} (${layout.context.inStream ? 'in a stream' : layout.context.parallelAbort ? 'parallel' : 'outside a stream'})`

describe('a body that ends early names the field it ends in', () => {
  test.each(layouts.map((l) => [label(l), l] as const))('%s, whole, decodes', (_, layout) => {
    expect(decode(wireOf(layout), layout.context).type).toBe(layout.name)
  })

  // At each field's first byte: a fixed-width field "ends too early"; a String has no NUL.
  const cuts = layouts.flatMap((layout) => {
    const wire = wireOf(layout)
    let at = 0
    return layout.fields.map(([what, b, string]) => {
      const cut = at
      at += b.length
      const error = string === undefined ? endsEarly(what) : noNul(what)
      return [label(layout), cut, what, wire.slice(0, cut), layout.context, error] as const
    })
  })

  test.each(cuts)('%s cut after %i bytes: the %s', (_, _cut, _what, wire, context, error) => {
    expect(() => decode(wire, context)).toThrow(error)
  })

  test.each(layouts.map((l) => [label(l), l] as const))('%s cut at every byte: always a ProtocolViolationError', (_, layout) => {
    const wire = wireOf(layout)
    for (let cut = 0; cut < wire.length; cut++) {
      expect(() => decode(wire.slice(0, cut), layout.context), `cut at ${cut}`).toThrow(ProtocolViolationError)
    }
  })

  test('inside a TupleData, the tuple is named', () => {
    const insert = [...char('I'), ...int32(1), ...char('N'), ...int16(2), ...char('t'), ...int32(2), ...ascii('ab'), ...char('n')]
    expect(() => decode(insert.slice(0, 12))).toThrow(endsEarly('Insert new tuple'))        // in the value's length
    expect(() => decode(insert.slice(0, 14))).toThrow(endsEarly('Insert new tuple'))        // in the value
    expect(() => decode(insert.slice(0, 7))).toThrow(endsEarly('Insert new tuple'))         // in the count
  })
})

describe('a byte too many', () => {
  test.each(layouts.map((l) => [label(l), l] as const))('%s, then one byte more, is refused by name', (_, layout) => {
    expect(() => decode([...wireOf(layout), 0x00], layout.context)).toThrow(refusal(`${layout.name}: 1 unexpected trailing bytes`))
  })

  test('a streamed change decoded outside a stream is read from the wrong place, and refused here', () => {
    const streamedInsert = [...char('I'), ...int32(800), ...int32(16389), ...char('N'), ...int16(0)]
    expect(() => decode(streamedInsert, outside)).toThrow(ProtocolViolationError)
  })
})

describe('the type byte', () => {
  test('an empty body', () => {
    expect(() => decode([])).toThrow(endsEarly('pgoutput message type'))
  })

  test.each([
    [0x58, "'X'"],
    [0x77, "'w'"],  // XLogData's own type byte: the caller passed the whole CopyData
    [0x20, "' '"],  // the first printable character
    [0x7e, "'~'"],  // the last
    [0x1f, '0x1f'],
    [0x7f, '0x7f'],
    [0x00, '0x00'],
    [0x05, '0x05'], // one hex digit, padded to two
    [0xff, '0xff'],
  ])('type byte %i is refused, named %s', (typeByte, named) => {
    expect(() => decode([typeByte, 0, 0, 0, 0])).toThrow(refusal(`unexpected pgoutput message type ${named}`))
  })
})

describe('TupleData', () => {
  const insert = (...tuple: number[]) => [...char('I'), ...int32(16389), ...char('N'), ...tuple]

  test.each([
    ['x', "'x'"],
    ['N', "'N'"],
    ['T', "'T'"], // kinds are lower case
  ])("a column of kind %s is refused", (kind, named) => {
    expect(() => decode(insert(...int16(2), ...char('n'), ...char(kind), ...int32(0))))
      .toThrow(refusal(`Insert new tuple: column 2 has the kind ${named}, none of 'n', 'u', 't', 'b'`))
  })

  test('a kind byte that is not printable is named in hex', () => {
    expect(() => decode(insert(...int16(1), 0x00))).toThrow(refusal("Insert new tuple: column 1 has the kind 0x00, none of 'n', 'u', 't', 'b'"))
  })

  test.each([
    ['t', -1],
    ['b', -1],
    ['t', -2_147_483_648],
  ])("a '%s' value of length %i is refused", (kind, length) => {
    expect(() => decode(insert(...int16(1), ...char(kind), ...int32(length)))).toThrow(refusal(`Insert new tuple: negative length ${length}`))
  })

  test('a value longer than the body', () => {
    expect(() => decode(insert(...int16(1), ...char('b'), ...int32(3), 1, 2))).toThrow(endsEarly('Insert new tuple'))
  })

  test.each([
    [-1, 0],     // the count is a signed Int16
    [-32768, 0],
    [3, 2],      // a column takes at least one byte
    [2, 1],
  ])('a count of %i columns in %i bytes cannot fit', (count, rest) => {
    expect(() => decode(insert(...int16(count), ...Array<number>(rest).fill(0x6e))))
      .toThrow(refusal(`Insert new tuple: ${count} columns cannot fit in ${rest} bytes`))
  })

  test('text that is not UTF-8 is refused; the same bytes as binary are not', () => {
    expect(() => decode(insert(...int16(1), ...char('t'), ...int32(2), 0xc3, 0x28))).toThrow(refusal('the server sent text that is not valid UTF-8'))
    expect(decode(insert(...int16(1), ...char('b'), ...int32(2), 0xc3, 0x28))).toMatchObject({ newTuple: [bytes(0xc3, 0x28)] })
  })

  test('the tuple of each message is named: Update old, Update new, Delete old', () => {
    expect(() => decode([...char('U'), ...int32(1), ...char('O'), ...int16(1), ...char('?')])).toThrow(refusal("Update old tuple: column 1 has the kind '?', none of 'n', 'u', 't', 'b'"))
    expect(() => decode([...char('U'), ...int32(1), ...char('N'), ...int16(1), ...char('?')])).toThrow(refusal("Update new tuple: column 1 has the kind '?', none of 'n', 'u', 't', 'b'"))
    expect(() => decode([...char('U'), ...int32(1), ...char('K'), ...int16(0), ...char('N'), ...int16(1), ...char('?')])).toThrow(refusal("Update new tuple: column 1 has the kind '?', none of 'n', 'u', 't', 'b'"))
    expect(() => decode([...char('D'), ...int32(1), ...char('K'), ...int16(1), ...char('?')])).toThrow(refusal("Delete old tuple: column 1 has the kind '?', none of 'n', 'u', 't', 'b'"))
  })
})

describe('the markers before a tuple', () => {
  test.each([['K'], ['O'], ['n']])("Insert with %s where 'N' must be", (marker) => {
    expect(() => decode([...char('I'), ...int32(1), ...char(marker), ...int16(0)])).toThrow(refusal(`Insert: expected 'N' before the tuple, got '${marker}'`))
  })

  test.each([['X', "'X'"], ['k', "'k'"], ['o', "'o'"], ['n', "'n'"], ['\u0000', '0x00']])('Update with %j first', (marker, named) => {
    expect(() => decode([...char('U'), ...int32(1), marker.charCodeAt(0), ...int16(0)]))
      .toThrow(refusal(`Update: expected 'K', 'O' or 'N' before the first tuple, got ${named}`))
  })

  test.each([['K'], ['O'], ['X']])("Update with %s after the old tuple, where 'N' must be", (marker) => {
    expect(() => decode([...char('U'), ...int32(1), ...char('K'), ...int16(0), ...char(marker), ...int16(0)]))
      .toThrow(refusal(`Update: expected 'N' after the old tuple, got '${marker}'`))
  })

  test('Update with both an old key and an old tuple: the second is where the new tuple must be', () => {
    expect(() => decode([...char('U'), ...int32(1), ...char('K'), ...int16(0), ...char('O'), ...int16(0), ...char('N'), ...int16(0)]))
      .toThrow(refusal("Update: expected 'N' after the old tuple, got 'O'"))
  })

  test.each([['N'], ['X'], ['k']])('Delete with %s', (marker) => {
    expect(() => decode([...char('D'), ...int32(1), ...char(marker), ...int16(0)])).toThrow(refusal(`Delete: expected 'K' or 'O' before the tuple, got '${marker}'`))
  })
})

describe('Relation', () => {
  const head = (identity: number) => [...char('R'), ...int32(16389), ...cstring('public'), ...cstring('jobs'), identity]

  test.each([
    [0x78, "'x'"],
    [0x44, "'D'"], // relreplident is lower case
    [0x00, '0x00'],
  ])('replica identity %i is refused, named %s', (identity, named) => {
    expect(() => decode([...head(identity), ...int16(0)])).toThrow(refusal(`Relation replica identity: ${named} is none of 'd', 'n', 'f', 'i'`))
  })

  test.each([
    [-1, 0],
    [1, 9],   // a column takes at least ten bytes: flags, an empty name, two Int32s
    [3, 29],
    [3, 0],
  ])('a count of %i columns in %i bytes cannot fit', (count, rest) => {
    expect(() => decode([...head(0x64), ...int16(count), ...Array<number>(rest).fill(0)]))
      .toThrow(refusal(`Relation: ${count} columns cannot fit in ${rest} bytes`))
  })

  test('three columns in exactly thirty bytes: empty names fit', () => {
    const column = [0x00, 0x00, ...int32(25), ...int32(-1)] // Int8 flags, String '' (its NUL), Int32 type OID, Int32 type modifier
    expect(decode([...head(0x64), ...int16(3), ...column, ...column, ...column])).toMatchObject({
      columns: [{ name: '', typeOid: 25 }, { name: '' }, { name: '' }],
    })
  })

  test('a column cut short names its field', () => {
    const long = [0x01, ...cstring('a_rather_long_name'), ...int32(25), ...int32(-1)] // 28 bytes
    expect(() => decode([...head(0x64), ...int16(2), ...long])).toThrow(endsEarly('Relation column flags'))
    expect(() => decode([...head(0x64), ...int16(1), 0x01, ...ascii('abcdefghijk')])).toThrow(noNul('Relation column name'))
    expect(() => decode([...head(0x64), ...int16(1), 0x01, ...cstring('done_at'), 0x00, 0x00])).toThrow(endsEarly('Relation column type OID'))
    expect(() => decode([...head(0x64), ...int16(1), 0x01, ...cstring('id'), ...int32(20), 0xff, 0xff])).toThrow(endsEarly('Relation column type modifier'))
  })

  test.each([
    ['relation name', [...char('R'), ...int32(1), ...cstring('public'), 0xc3, 0x28, 0x00, ...char('d'), ...int16(0)]],
    ['namespace', [...char('R'), ...int32(1), 0xff, 0x00, ...cstring('t'), ...char('d'), ...int16(0)]],
    ['column name', [...char('R'), ...int32(1), 0x00, ...cstring('t'), ...char('d'), ...int16(1), 0x00, 0xe2, 0x82, 0x00, ...int32(25), ...int32(-1)]],
    ['type name', [...char('Y'), ...int32(1), 0x00, 0xc0, 0x80, 0x00]], // an overlong NUL
  ])('a %s that is not UTF-8 is refused', (_, wire) => {
    expect(() => decode(wire)).toThrow(refusal('the server sent text that is not valid UTF-8'))
  })
})

describe('Truncate and Message counts and lengths', () => {
  test('a negative relation count', () => {
    expect(() => decode([...char('T'), ...int32(-1), 0x00])).toThrow(refusal('Truncate: a negative relation count, -1'))
    expect(() => decode([...char('T'), ...int32(-2_147_483_648)])).toThrow(refusal('Truncate: a negative relation count, -2147483648'))
  })

  test('fewer OIDs than counted, or more', () => {
    expect(() => decode([...char('T'), ...int32(2_147_483_647), 0x00, ...int32(1)])).toThrow(endsEarly('Truncate relation OID'))
    expect(() => decode([...char('T'), ...int32(0), 0x00, ...int32(1)])).toThrow(refusal('Truncate: 4 unexpected trailing bytes'))
  })

  const message = (length: number, ...content: number[]) => [...char('M'), 0x00, ...int64(1n), ...cstring('p'), ...int32(length), ...content]

  test('a negative content length', () => {
    expect(() => decode(message(-1))).toThrow(refusal('Message content: negative length -1'))
  })

  test('content shorter or longer than its length', () => {
    expect(() => decode(message(3, 1, 2))).toThrow(endsEarly('Message content'))
    expect(() => decode(message(1, 1, 2))).toThrow(refusal('Message: 1 unexpected trailing bytes'))
  })

  test.each([
    ['prefix', [...char('M'), 0x00, ...int64(1n), 0xc3, 0x00, ...int32(0)]],
    ['origin name', [...char('O'), ...int64(1n), 0xed, 0xa0, 0x80, 0x00]], // a surrogate, encoded
    ['gid', [...char('b'), ...int64(1n), ...int64(1n), ...int64(0n), ...int32(1), 0x80, 0x00]],
  ])('a %s that is not UTF-8 is refused', (_, wire) => {
    expect(() => decode(wire)).toThrow(refusal('the server sent text that is not valid UTF-8'))
  })
})

describe('what proto.c refuses', () => {
  const lsns = (...values: bigint[]) => values.flatMap(int64)

  test.each([
    ['Commit', [...char('C'), 0x01, ...lsns(1n, 2n, 3n)], 1],
    ['StreamCommit', [...char('c'), ...int32(1), 0x80, ...lsns(1n, 2n, 3n)], 128],
    ['Prepare', [...char('P'), 0x01, ...lsns(1n, 2n, 3n), ...int32(1), 0x00], 1],
    ['StreamPrepare', [...char('p'), 0x02, ...lsns(1n, 2n, 3n), ...int32(1), 0x00], 2],
    ['CommitPrepared', [...char('K'), 0xff, ...lsns(1n, 2n, 3n), ...int32(1), 0x00], 255],
    ['RollbackPrepared', [...char('r'), 0x01, ...lsns(1n, 2n, 3n, 4n), ...int32(1), 0x00], 1],
  ])('%s flags other than 0', (name, wire, flags) => {
    expect(() => decode(wire)).toThrow(refusal(`${name} flags: ${flags}, where only 0 is defined`))
  })

  const unset = (what: string) => refusal(`${what}: 0 (InvalidXLogRecPtr), where a WAL position is required`)

  test.each([
    ['Begin final LSN', [...char('B'), ...lsns(0n, 1n), ...int32(1)]],
    ['BeginPrepare prepare LSN', [...char('b'), ...lsns(0n, 1n, 1n), ...int32(1), 0x00]],
    ['BeginPrepare end LSN', [...char('b'), ...lsns(1n, 0n, 1n), ...int32(1), 0x00]],
    ['Prepare prepare LSN', [...char('P'), 0x00, ...lsns(0n, 1n, 1n), ...int32(1), 0x00]],
    ['Prepare end LSN', [...char('P'), 0x00, ...lsns(1n, 0n, 1n), ...int32(1), 0x00]],
    ['StreamPrepare prepare LSN', [...char('p'), 0x00, ...lsns(0n, 1n, 1n), ...int32(1), 0x00]],
    ['StreamPrepare end LSN', [...char('p'), 0x00, ...lsns(1n, 0n, 1n), ...int32(1), 0x00]],
    ['CommitPrepared commit LSN', [...char('K'), 0x00, ...lsns(0n, 1n, 1n), ...int32(1), 0x00]],
    ['CommitPrepared end LSN', [...char('K'), 0x00, ...lsns(1n, 0n, 1n), ...int32(1), 0x00]],
    ['RollbackPrepared prepare end LSN', [...char('r'), 0x00, ...lsns(0n, 1n, 1n, 1n), ...int32(1), 0x00]],
    ['RollbackPrepared rollback end LSN', [...char('r'), 0x00, ...lsns(1n, 0n, 1n, 1n), ...int32(1), 0x00]],
  ])('%s 0', (what, wire) => {
    expect(() => decode(wire)).toThrow(unset(what))
  })

  test.each([
    ['Prepare', 'P'],
    ['StreamPrepare', 'p'],
  ])('%s xid 0', (name, typeChar) => {
    expect(() => decode([...char(typeChar), 0x00, ...lsns(1n, 1n, 1n), ...int32(0), 0x00]))
      .toThrow(refusal(`${name} xid: 0 (InvalidTransactionId), where a transaction is required`))
  })

  test('and what it lets pass: LSN 0 in Commit, Stream Commit and Origin; xid 0 where only Prepare checks it; an LSN of 1', () => {
    expect(decode([...char('C'), 0x00, ...lsns(0n, 0n, 0n)])).toStrictEqual({ type: 'Commit', commitLsn: 0n, endLsn: 0n, commitTime: 0n })
    expect(decode([...char('c'), ...int32(0), 0x00, ...lsns(0n, 0n, 0n)])).toMatchObject({ type: 'StreamCommit', xid: 0, commitLsn: 0n })
    expect(decode([...char('B'), ...lsns(1n, 0n), ...int32(0)])).toStrictEqual({ type: 'Begin', finalLsn: 1n, commitTime: 0n, xid: 0 })
    expect(decode([...char('b'), ...lsns(1n, 1n, 0n), ...int32(0), 0x00])).toMatchObject({ type: 'BeginPrepare', xid: 0 })
    expect(decode([...char('K'), 0x00, ...lsns(1n, 1n, 0n), ...int32(0), 0x00])).toMatchObject({ type: 'CommitPrepared', xid: 0 })
    expect(decode([...char('r'), 0x00, ...lsns(1n, 1n, 0n, 0n), ...int32(0), 0x00])).toMatchObject({ type: 'RollbackPrepared', xid: 0 })
    expect(decode([...char('P'), 0x00, ...lsns(1n, 1n, 0n), ...int32(1), 0x00])).toMatchObject({ type: 'Prepare', xid: 1 })
  })
})
