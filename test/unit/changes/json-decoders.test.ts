/**
 * The JSON decoders: payloads recorded from the row and DDL triggers on PostgreSQL 13 (note
 * json_build_object's " : " spacing) decode to typed events; anything else comes back as a
 * PayloadError for that one message, never as an exception.
 */
import { describe, expect, test } from 'vitest'
import { decodeDdlChange } from '../../../src/listener/changes/ddl-change.ts'
import { PayloadError } from '../../../src/listener/changes/errors.ts'
import { decodeJson, decodeShaped, describe as describeValue, Shape } from '../../../src/listener/changes/json.ts'
import { decodeRowChange } from '../../../src/listener/changes/row-change.ts'

const from = (payload: string, channel = 'feed') => ({ processId: 4242, channel, payload })

describe('decodeJson', () => {
  test('a JSON payload is its value', () => {
    expect(decodeJson(from('{"a":[1,"x",null,true]}'))).toEqual({ a: [1, 'x', null, true] })
    expect(decodeJson(from('"text"'))).toBe('text')
  })

  test('anything else is a PayloadError with the channel, the process, the payload and the SyntaxError', () => {
    const error = decodeJson(from('{"a":', 'orders'))
    expect(error).toBeInstanceOf(PayloadError)
    if (!(error instanceof PayloadError)) return
    expect(error.cause).toBeInstanceOf(SyntaxError)
    expect([error.channel, error.processId, error.payload]).toEqual(['orders', 4242, '{"a":'])
    expect(error.message).toMatch(/^the payload on channel "orders" from process 4242 is not JSON \(.+\): "\{\\"a\\":"$/)
  })

  test("the message shows only the payload's start; the error keeps it whole", () => {
    const payload = `x${'y'.repeat(7000)}`
    const error = decodeJson(from(payload)) as PayloadError
    expect(error.message.length).toBeLessThan(300)
    expect(error.payload).toBe(payload)
  })
})

describe('PayloadError', () => {
  test('is named PayloadError; a payload of 80 characters is shown whole, a longer one cut to 80 and "..."', () => {
    const exact = 'x'.repeat(80)
    const whole = decodeJson(from(exact)) as PayloadError
    expect([whole.name, whole.type]).toEqual(['PayloadError', 'PayloadError'])
    expect(whole.message.endsWith(`: "${exact}"`)).toBe(true)
    const long = decodeJson(from(`${exact}yz`)) as PayloadError
    expect(long.message.endsWith(`: "${exact}..."`)).toBe(true)
  })
})

describe('decodeShaped and describe', () => {
  test('a Shape thrown by the builder is a PayloadError; any other error is a bug and propagates', () => {
    const shaped = decodeShaped(from('{}'), 'a thing', () => {
      throw new Shape('"x" is missing')
    })
    expect(shaped).toBeInstanceOf(PayloadError)
    expect((shaped as PayloadError).message).toBe('the payload on channel "feed" from process 4242 is not a thing ("x" is missing): "{}"')
    const bug = new TypeError('a bug in the builder')
    expect(() =>
      decodeShaped(from('{}'), 'a thing', () => {
        throw bug
      }),
    ).toThrow(bug)
  })

  test('describe: JSON of at most 40 characters whole, longer cut to 40 and "..."; undefined is "missing"', () => {
    const forty = 'x'.repeat(38) // JSON adds the two quotes: 40 characters
    expect(describeValue(forty)).toBe(`"${forty}"`)
    expect(describeValue(`${forty}y`)).toBe(`"${forty}y...`) // 41: its first 40
    expect(describeValue(undefined)).toBe('missing')
    expect(describeValue(null)).toBe('null')
  })
})

describe('decodeRowChange', () => {
  test('an insert', () => {
    const payload = `{"schema" : "we\\"ird.s", "table" : "Tä ble", "operation" : "INSERT", "seq" : 1, "truncated" : false, "key" : {"k'ey" : "a'b\\\\c", "i d" : "1"}, "row" : {"i d":1,"k'ey":"a'b\\\\c","v":"x"}}`
    expect(decodeRowChange(from(payload))).toEqual({
      type: 'RowChange', kind: 'row', channel: 'feed', processId: 4242, schema: 'we"ird.s', table: 'Tä ble', operation: 'INSERT', seq: 1,
      truncated: false, key: { "k'ey": "a'b\\c", 'i d': '1' }, row: { 'i d': 1, "k'ey": "a'b\\c", v: 'x' },
    })
  })

  test('an update of the key column carries both keys and both rows', () => {
    const payload = `{"schema" : "s", "table" : "t", "operation" : "UPDATE", "seq" : 1, "truncated" : false, "key" : {"id" : "3"}, "oldKey" : {"id" : "1"}, "old" : {"id":1,"v":"x"}, "new" : {"id":3,"v":"x"}}`
    expect(decodeRowChange(from(payload))).toMatchObject({ operation: 'UPDATE', key: { id: '3' }, oldKey: { id: '1' }, old: { id: 1, v: 'x' }, new: { id: 3, v: 'x' } })
  })

  test('a truncated delete has the key and no row', () => {
    const payload = `{"schema" : "s", "table" : "t", "operation" : "DELETE", "seq" : 2, "truncated" : true, "key" : {"id" : "2"}}`
    expect(decodeRowChange(from(payload))).toMatchObject({ operation: 'DELETE', truncated: true, key: { id: '2' }, row: null })
  })

  test('a truncated update whose keys did not fit either', () => {
    const payload = `{"schema" : "s", "table" : "t", "operation" : "UPDATE", "seq" : 9, "truncated" : true, "key" : null, "oldKey" : null}`
    expect(decodeRowChange(from(payload))).toMatchObject({ operation: 'UPDATE', truncated: true, key: null, oldKey: null, old: null, new: null })
  })

  const base = { schema: 's', table: 't', operation: 'INSERT', seq: 1, truncated: false, key: { id: '1' }, row: { id: 1 } }
  test.each([
    ['[1]', /is not a row change \(not a JSON object\)/],
    [JSON.stringify({ ...base, operation: 'TRUNCATE' }), /"operation" is "TRUNCATE", not INSERT, UPDATE or DELETE/],
    [JSON.stringify({ ...base, seq: 0 }), /"seq" is 0, not a counting number/],
    [JSON.stringify({ ...base, seq: '1' }), /"seq" is "1", not a number/],
    [JSON.stringify({ ...base, schema: undefined }), /"schema" is missing, not a string/],
    [JSON.stringify({ ...base, key: null }), /"key" is null, not an object/],
    [JSON.stringify({ ...base, key: { id: null } }), /key column "id" is null: the primary key changed since the trigger was installed; install it again/],
    [JSON.stringify({ ...base, row: undefined }), /"row" is missing, not an object/],
    [JSON.stringify({ ...base, truncated: true }), /"row" is present although "truncated" is true/],
    [JSON.stringify({ ...base, operation: 'UPDATE', oldKey: { id: '1' }, old: {}, new: [] }), /"new" is \[\], not an object/],
  ])('%s is a PayloadError', (payload, message) => {
    const result = decodeRowChange(from(payload))
    expect(result).toBeInstanceOf(PayloadError)
    expect((result as PayloadError).message).toMatch(message)
  })
})

describe('decodeDdlChange', () => {
  test('a created table', () => {
    const payload = `{"event" : "ddl_command_end", "seq" : 2, "truncated" : false, "tag" : "CREATE TABLE", "objectType" : "table", "schema" : "we\\"ird.s", "identity" : "\\"we\\"\\"ird.s\\".\\"x.y\\""}`
    expect(decodeDdlChange(from(payload))).toEqual({
      type: 'DdlChange', kind: 'ddl', channel: 'feed', processId: 4242, event: 'ddl_command_end', seq: 2, truncated: false,
      tag: 'CREATE TABLE', objectType: 'table', schema: 'we"ird.s', identity: '"we""ird.s"."x.y"',
    })
  })

  test('seq 1 is the first change of a transaction', () => {
    const payload = JSON.stringify({ event: 'ddl_command_end', seq: 1, truncated: false, tag: 'CREATE TABLE', objectType: 'table', schema: 's', identity: 's.t' })
    expect(decodeDdlChange(from(payload))).toMatchObject({ seq: 1 })
  })

  test('a dropped object, with original and a null schema', () => {
    const payload = `{"event" : "sql_drop", "seq" : 6, "truncated" : false, "tag" : "DROP TABLE", "objectType" : "default value", "schema" : null, "identity" : "for \\"s\\".\\"x.y\\".id", "original" : false}`
    expect(decodeDdlChange(from(payload))).toMatchObject({ event: 'sql_drop', tag: 'DROP TABLE', objectType: 'default value', schema: null, identity: 'for "s"."x.y".id', original: false })
  })

  const base = { event: 'sql_drop', seq: 1, truncated: false, tag: 'DROP TABLE', objectType: 'table', schema: 's', identity: 's.t', original: true }
  test.each([
    ['nope', /is not JSON/],
    [JSON.stringify({ ...base, event: 'ddl_command_start' }), /"event" is "ddl_command_start", not ddl_command_end or sql_drop/],
    [JSON.stringify({ ...base, original: undefined }), /"original" is missing, not a boolean/],
    [JSON.stringify({ ...base, identity: 5 }), /"identity" is 5, not a string or null/],
    [JSON.stringify({ ...base, tag: null }), /"tag" is null, not a string/],
    ['[1]', /^the payload on channel "feed" from process 4242 is not a DDL change \(not a JSON object\)/],
    ['null', /is not a DDL change \(not a JSON object\)/],
    [JSON.stringify({ ...base, seq: 0 }), /is not a DDL change \("seq" is 0, not a counting number\)/],
    [JSON.stringify({ ...base, seq: -1 }), /"seq" is -1, not a counting number/],
    [JSON.stringify({ ...base, seq: 1.5 }), /"seq" is 1.5, not a counting number/],
    [JSON.stringify({ ...base, seq: 2 ** 53 }), /"seq" is 9007199254740992, not a counting number/],
    // 2^53 + 1 is kept exact, as text (exactNumbers), and so is not a number at all.
    [JSON.stringify({ ...base, seq: 2 ** 53 }).replace('9007199254740992', '9007199254740993'), /"seq" is "9007199254740993", not a number/],
  ])('%s is a PayloadError', (payload, message) => {
    const result = decodeDdlChange(from(payload))
    expect(result).toBeInstanceOf(PayloadError)
    expect((result as PayloadError).message).toMatch(message)
  })
})
