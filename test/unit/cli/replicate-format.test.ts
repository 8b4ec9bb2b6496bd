/**
 * What `pglisten replicate` prints, byte for byte: one JSON line per row change, truncate and
 * message, keys in a fixed order; nothing for Begin and Commit; every column value as JSON
 * can hold it (a Date, bytea, bigint, infinity, an unchanged TOAST value), never an exception.
 */
import { describe, expect, test } from 'vitest'
import { changeLine, cliValue, jsonValue, publicationList, relationName } from '../../../src/cli/replicate-format.ts'
import { unchangedToast, type RelationInfo, type ReplicationChange } from '../../../src/replication.ts'

const orders: RelationInfo = {
  oid: 16384,
  schema: 'public',
  table: 'orders',
  replicaIdentity: 'default',
  columns: [
    { name: 'id', typeOid: 23, isKey: true },
    { name: 'total', typeOid: 1700, isKey: false },
  ],
}
/** The transaction every change below is in: xid 740, committing at 0/1764450. */
const inTransaction = { xid: 740, commitLsn: 0x1764450n, commitTime: new Date(Date.UTC(2026, 11, 5, 10, 0, 0)), lsn: 0x1764378n }
const where = '"lsn":"0/1764378","xid":740,"commit_time":"2026-12-05T10:00:00.000Z","commit_lsn":"0/1764450","seq":3'

describe('changeLine', () => {
  test('an insert: where, relation, op, key, row, in that order, one line', () => {
    const change: ReplicationChange = { kind: 'insert', ...inTransaction, relation: orders, key: { id: 1 }, row: { id: 1, total: '9.50' } }
    expect(changeLine(change, 3)).toBe(`{${where},"relation":"public.orders","op":"insert","key":{"id":1},"row":{"id":1,"total":"9.50"}}\n`)
  })

  test('an update: "old" only when the change has the old row (REPLICA IDENTITY FULL)', () => {
    const update = { kind: 'update', ...inTransaction, relation: orders, key: { id: 1 }, row: { id: 1, total: '10.00' } } as const
    expect(changeLine({ ...update, old: null }, 3)).toBe(`{${where},"relation":"public.orders","op":"update","key":{"id":1},"row":{"id":1,"total":"10.00"}}\n`)
    expect(changeLine({ ...update, old: { id: 1, total: '9.50' } }, 3)).toBe(
      `{${where},"relation":"public.orders","op":"update","key":{"id":1},"row":{"id":1,"total":"10.00"},"old":{"id":1,"total":"9.50"}}\n`,
    )
  })

  test('a delete: the key, "old" when present, and no row', () => {
    const remove = { kind: 'delete', ...inTransaction, relation: orders, key: { id: 1 } } as const
    expect(changeLine({ ...remove, old: null }, 3)).toBe(`{${where},"relation":"public.orders","op":"delete","key":{"id":1}}\n`)
    expect(changeLine({ ...remove, old: { id: 1, total: '9.50' } }, 3)).toBe(`{${where},"relation":"public.orders","op":"delete","key":{"id":1},"old":{"id":1,"total":"9.50"}}\n`)
  })

  test('a truncate: its relations, cascade and restart_identity', () => {
    const other = { ...orders, schema: 'Billing', table: 'Invoice lines' }
    expect(changeLine({ kind: 'truncate', ...inTransaction, relations: [orders, other], cascade: true, restartIdentity: false }, 3)).toBe(
      `{${where},"op":"truncate","relations":["public.orders","\\"Billing\\".\\"Invoice lines\\""],"cascade":true,"restart_identity":false}\n`,
    )
  })

  test('a transactional message: its transaction, then the prefix and its content as text', () => {
    const content = new TextEncoder().encode('{"job":42} ✓')
    expect(changeLine({ kind: 'message', transactional: true, prefix: 'jobs', content, lsn: 0x1764378n, xid: 740, commitLsn: 0x1764450n, commitTime: inTransaction.commitTime }, 3)).toBe(
      `{${where},"op":"message","transactional":true,"prefix":"jobs","content":"{\\"job\\":42} ✓"}\n`,
    )
  })

  test('a message outside any transaction: no xid, commit_time or commit_lsn', () => {
    expect(changeLine({ kind: 'message', transactional: false, prefix: 'p', content: new Uint8Array(), lsn: 0x1_00000010n }, 3)).toBe('{"lsn":"1/10","op":"message","transactional":false,"prefix":"p","content":""}\n')
  })

  test('content that is not UTF-8 comes as content_base64 instead, byte for byte', () => {
    const bytes = Uint8Array.of(0x66, 0x6f, 0xff, 0x00, 0xc3) // "fo", a byte no UTF-8 has, NUL, a lead byte without its follower
    const record = JSON.parse(changeLine({ kind: 'message', transactional: false, prefix: 'bin', content: bytes, lsn: 1n }, 3)!)
    expect(record).toEqual({ lsn: '0/1', op: 'message', transactional: false, prefix: 'bin', content_base64: 'Zm//AMM=' })
    expect(record).not.toHaveProperty('content')
  })

  test('content that is UTF-8 keeps a leading BOM', () => {
    const record = JSON.parse(changeLine({ kind: 'message', transactional: false, prefix: 'p', content: Uint8Array.of(0xef, 0xbb, 0xbf, 0x61), lsn: 1n }, 3)!)
    expect(record.content).toBe('\ufeffa')
  })

  test('content that is not UTF-8 and longer than one slice of the base64 encoder is whole', () => {
    const big = new Uint8Array(100_000).map((_, i) => (i % 7 === 0 ? 0xff : i % 256))
    const record = JSON.parse(changeLine({ kind: 'message', transactional: false, prefix: 'p', content: big, lsn: 1n }, 3)!)
    const back = Uint8Array.from(atob(record.content_base64), (c) => c.charCodeAt(0))
    expect(back.length).toBe(big.length)
    expect(back.findIndex((byte, i) => byte !== big[i])).toBe(-1)
  })

  test('Begin, Commit and the two-phase items print nothing', () => {
    const t = { ...inTransaction }
    expect(changeLine({ kind: 'begin', ...t }, 3)).toBeUndefined()
    expect(changeLine({ kind: 'commit', ...t, endLsn: 0x1764480n }, 3)).toBeUndefined()
    expect(changeLine({ kind: 'prepare', ...t, gid: 'g', endLsn: 0x1764480n }, 3)).toBeUndefined()
    expect(changeLine({ kind: 'commit-prepared', xid: 740, gid: 'g', lsn: 1n, time: t.commitTime }, 3)).toBeUndefined()
    expect(changeLine({ kind: 'rollback-prepared', xid: 740, gid: 'g', lsn: 1n, time: t.commitTime }, 3)).toBeUndefined()
  })

  test('a line is one line whatever the values hold', () => {
    const line = changeLine({ kind: 'insert', ...inTransaction, relation: orders, key: { id: 1 }, row: { id: 1, note: 'a\nb\r\u2028"\\' } }, 3)!
    expect(line.indexOf('\n')).toBe(line.length - 1)
    expect(JSON.parse(line).row.note).toBe('a\nb\r\u2028"\\')
  })

  test('DEL, C1 controls (U+009B is CSI) and U+2028/U+2029 are escaped as C0 controls are: the same value, nothing a terminal acts on', () => {
    const note = '\u001b[2J \u007f \u0085 \u009b2J \u2028 \u2029'
    const line = changeLine({ kind: 'insert', ...inTransaction, relation: orders, key: { id: 1 }, row: { id: 1, note } }, 3)!
    expect(line.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
    expect(JSON.parse(line).row.note).toBe(note)
  })
})

describe('jsonValue: every value JSON can hold, as PostgreSQL would take it back', () => {
  test.each([
    ['text', 'héllo', 'héllo'],
    ['a boolean', true, true],
    ['an integer', 42, 42],
    ['a float', -1.5, -1.5],
    ['SQL NULL', null, null],
    ['int8 as text (as node-postgres keeps it)', '9223372036854775807', '9223372036854775807'],
    ['a bigint (from a value override)', 9223372036854775807n, '9223372036854775807'],
    ['a timestamptz', new Date('2026-12-05T10:00:00.123Z'), '2026-12-05T10:00:00.123Z'],
    ['a timestamp past year 9999', new Date(Date.UTC(12345, 0, 1)), '+012345-01-01T00:00:00.000Z'],
    ["'infinity' (a date the value parser reads as Infinity)", Infinity, 'Infinity'],
    ["'-infinity'", -Infinity, '-Infinity'],
    ['float8 NaN', NaN, 'NaN'],
    ['bytea', Uint8Array.of(0x00, 0x0a, 0xff), '\\x000aff'],
    ['empty bytea', new Uint8Array(0), '\\x'],
    ['an unchanged TOAST value', unchangedToast, { unchanged_toast: true }],
    ['a point', { x: 1, y: -2.5 }, { x: 1, y: -2.5 }],
    ['a text[] with NULL', ['a', null, 'b c'], ['a', null, 'b c']],
    ['a timestamptz[]', [new Date(0), Infinity], ['1970-01-01T00:00:00.000Z', 'Infinity']],
    ['a bytea[][]', [[Uint8Array.of(1)], [Uint8Array.of(2)]], [['\\x01'], ['\\x02']]],
    ['jsonb', { k: [1, { n: null }], s: 'x' }, { k: [1, { n: null }], s: 'x' }],
  ])('%s', (_, value, json) => {
    expect(JSON.parse(JSON.stringify(jsonValue(value)))).toEqual(json)
  })

  test('never throws: an invalid Date (past JS\'s year 275760) is its text; a cycle is cut; undefined is null', () => {
    expect(jsonValue(new Date(NaN))).toBe('Invalid Date')
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic['self'] = cyclic
    expect(JSON.stringify(jsonValue(cyclic))).toBe('{"a":1,"self":"[Circular]"}')
    expect(jsonValue(undefined)).toBeNull()
    expect(jsonValue(Symbol('other'))).toBe('Symbol(other)')
    // The same object twice is not a cycle.
    const shared = { n: 1 }
    expect(JSON.stringify(jsonValue([shared, shared]))).toBe('[{"n":1},{"n":1}]')
  })

  test('a key named "__proto__" (a column, a jsonb key) stays a key', () => {
    const doc = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>
    expect(JSON.stringify(jsonValue(doc))).toBe('{"__proto__":{"polluted":true},"a":1}')
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })

  test('an unchanged TOAST value inside a row, as a line prints it', () => {
    const line = changeLine({ kind: 'update', ...inTransaction, relation: orders, key: { id: 1 }, row: { id: 1, doc: unchangedToast }, old: null }, 3)!
    expect(JSON.parse(line).row).toEqual({ id: 1, doc: { unchanged_toast: true } })
  })
})

describe('cliValue: how the command reads values (the stream\'s parse option)', () => {
  // Type OIDs from pg_type: date 1082, timestamp 1114, timestamptz 1184, and their arrays.
  test('date and timestamp stay PostgreSQL\'s text: they name no instant, and a time zone would move them', () => {
    expect(cliValue('2026-12-05', 1082)).toBe('2026-12-05')
    expect(cliValue('2026-12-05 10:00:00.123456', 1114)).toBe('2026-12-05 10:00:00.123456')
    expect(cliValue('infinity', 1082)).toBe('infinity')
    expect(cliValue('0044-03-15 BC', 1082)).toBe('0044-03-15 BC')
  })

  test('their arrays stay arrays, of text, with NULL and quoted elements read as text[] reads them', () => {
    expect(cliValue('{2026-12-05,NULL,infinity}', 1182)).toEqual(['2026-12-05', null, 'infinity'])
    expect(cliValue('{"2026-12-05 10:00:00","2026-12-06 11:00:00"}', 1115)).toEqual(['2026-12-05 10:00:00', '2026-12-06 11:00:00'])
    expect(cliValue('{{"2026-12-05 10:00:00"},{NULL}}', 1115)).toEqual([['2026-12-05 10:00:00'], [null]])
  })

  test('timestamptz stays text too, microseconds and all; its array, an array of text', () => {
    expect(cliValue('2026-12-05 10:00:00.123456+00', 1184)).toBe('2026-12-05 10:00:00.123456+00')
    expect(cliValue('{"2026-12-05 10:00:00.123456+00",NULL}', 1185)).toEqual(['2026-12-05 10:00:00.123456+00', null])
  })

  test('every other type is left to the stream\'s default (undefined)', () => {
    for (const oid of [16, 17, 20, 23, 25, 1700, 3802]) expect(cliValue('x', oid)).toBeUndefined()
  })

  test('as a line prints them: whatever TZ this process has', () => {
    const line = changeLine({ kind: 'insert', ...inTransaction, relation: orders, key: { id: 1 }, row: { id: 1, day: cliValue('2026-12-05', 1082), at: cliValue('2026-12-05 00:30:00', 1114) } }, 3)!
    expect(JSON.parse(line).row).toEqual({ id: 1, day: '2026-12-05', at: '2026-12-05 00:30:00' })
  })
})

describe('status words', () => {
  test('relation names as SQL names them: plain when they can be, else quoted, so that a dot inside a name is not a separator', () => {
    expect(relationName({ schema: 'public', table: 'orders_2$' })).toBe('public.orders_2$')
    expect(relationName({ schema: 'Sales', table: 'order "lines"' })).toBe('"Sales"."order ""lines"""')
    expect(relationName({ schema: 'a.b', table: 'c' })).not.toBe(relationName({ schema: 'a', table: 'b.c' }))
  })

  test('publications, quoted as they can be typed again', () => {
    expect(publicationList(['orders'])).toBe('publication "orders"')
    expect(publicationList(['orders', 'A b'])).toBe('publications "orders", "A b"')
  })
})
