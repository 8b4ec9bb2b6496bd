/**
 * Column values from text (pgoutput's default format) to JS values, as node-postgres gives
 * them by default (pg-types), by type OID; any other type stays text. An override hook takes
 * any type over. Pure; imports only the error class.
 */
import { ValueParseError } from './errors.ts'

/** Turns one column's text into a JS value; `typeOid` comes from the Relation message. */
export type ValueParser = (text: string, typeOid: number) => unknown

/**
 * Overrides: an object keyed by type OID (its function replaces the default for that type),
 * or one function asked first for every value, whose `undefined` means "the default".
 */
export type ValueOverrides = Readonly<Record<number, (text: string) => unknown>> | ((text: string, typeOid: number) => unknown)

const parseBool = (text: string): boolean => text === 't' || text === 'true'
const parseInteger = (text: string): number => Number.parseInt(text, 10)
const parseFloat = (text: string): number => Number(text) // 'NaN', 'Infinity', '-Infinity' included
const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch (cause) {
    throw new ValueParseError(`not JSON: ${JSON.stringify(text.slice(0, 40))}`, { cause })
  }
}

/**
 * bytea, in either output format ("Binary Data Types"): hex ('\x' then two digits a byte,
 * the default since 9.0) or escape (backslash and three octal digits, '\\' for a backslash).
 */
function parseBytea(text: string): Uint8Array {
  if (text.startsWith('\\x')) {
    const hex = text.slice(2)
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new ValueParseError(`malformed bytea hex: ${JSON.stringify(text.slice(0, 40))}`)
    const out = new Uint8Array(hex.length / 2)
    for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
    return out
  }
  const out: number[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== 0x5c) {
      if (c > 0xff) throw new ValueParseError('malformed bytea escape: a character beyond one byte')
      out.push(c)
    } else if (text[i + 1] === '\\') {
      out.push(0x5c)
      i++
    } else if (/^[0-3][0-7]{2}$/.test(text.slice(i + 1, i + 4))) {
      out.push(Number.parseInt(text.slice(i + 1, i + 4), 8))
      i += 3
    } else throw new ValueParseError(`malformed bytea escape at character ${i}`)
  }
  return Uint8Array.from(out)
}

const dateTime = /^(\d{4,})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d):(\d\d)(\.\d+)?)?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/

/**
 * date, timestamp and timestamptz, as pg-types (postgres-date) reads them: with an offset, the
 * instant; without (date, timestamp), local time. 'infinity' and '-infinity' are the infinite
 * numbers; microseconds beyond milliseconds are lost, as in any Date.
 */
function parseDate(text: string): Date | number {
  if (text === 'infinity') return Infinity
  if (text === '-infinity') return -Infinity
  const m = dateTime.exec(text)
  if (m === null) throw new ValueParseError(`not a date or timestamp: ${JSON.stringify(text.slice(0, 40))}`)
  let year = Number(m[1])
  if (m[12]) year = 1 - year // 1 BC is year 0
  const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map((part) => Number(part ?? 0)) as [number, number, number, number, number]
  const ms = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0
  // setUTCFullYear and setFullYear take the year as it is; Date.UTC and new Date(y, ...) would
  // read 0 to 99 as 1900 to 1999 (and so 29 February of 1 BC, year 0, as 1 March 1900).
  const date = new Date(0)
  if (m[8] !== undefined) {
    const offset = (m[8] === '-' ? -1 : 1) * ((Number(m[9]) * 60 + Number(m[10] ?? 0)) * 60 + Number(m[11] ?? 0)) * 1000
    date.setUTCFullYear(year, month - 1, day)
    date.setUTCHours(hour, minute, second, ms)
    date.setTime(date.getTime() - offset)
  } else {
    date.setFullYear(year, month - 1, day)
    date.setHours(hour, minute, second, ms)
  }
  return date
}

function parsePoint(text: string): { x: number; y: number } {
  const m = /^\((-?[\d.eE+-]+|NaN|-?Infinity),(-?[\d.eE+-]+|NaN|-?Infinity)\)$/.exec(text)
  if (m === null) throw new ValueParseError(`not a point: ${JSON.stringify(text.slice(0, 40))}`)
  return { x: Number(m[1]), y: Number(m[2]) }
}

/**
 * An array literal ("Arrays", "Array Value Input"): {a,"b c",NULL}, nested for more
 * dimensions, an optional [lower:upper]= decoration first; elements quoted with backslash
 * escapes, or bare; only a bare NULL (any case) is null. Each element goes through `element`.
 */
export function parseArray(text: string, element: (text: string) => unknown): unknown[] {
  let i = 0
  if (text.startsWith('[')) {
    const equals = text.indexOf('=')
    if (equals === -1) throw new ValueParseError('malformed array: dimensions without "="')
    i = equals + 1
  }
  const fail = (why: string): never => {
    throw new ValueParseError(`malformed array literal at character ${i}: ${why}`)
  }
  const parseLevel = (): unknown[] => {
    if (text[i] !== '{') fail('expected "{"')
    i++
    const items: unknown[] = []
    if (text[i] === '}') {
      i++
      return items
    }
    for (;;) {
      if (text[i] === '{') items.push(parseLevel())
      else if (text[i] === '"') {
        let value = ''
        for (i++; text[i] !== '"'; i++) {
          if (text[i] === '\\') i++ // past the end is caught next, as the text running out is
          if (i >= text.length) fail('an unterminated quoted element')
          value += text[i]
        }
        i++
        items.push(element(value))
      } else {
        const start = i
        while (i < text.length && text[i] !== ',' && text[i] !== '}') {
          if ('{"\\'.includes(text[i]!)) fail('a special character in a bare element')
          i++
        }
        const bare = text.slice(start, i).trim()
        if (bare === '') fail('an empty element')
        items.push(bare.toUpperCase() === 'NULL' ? null : element(bare))
      }
      if (text[i] === ',') i++
      else if (text[i] === '}') {
        i++
        return items
      } else fail('expected "," or "}"')
    }
  }
  const result = parseLevel()
  if (i !== text.length) fail('trailing characters')
  return result
}

/** The scalar parsers by type OID (pg_type.oid, fixed for built-in types). */
const scalars: [number, (text: string) => unknown][] = [
  [16, parseBool], // bool
  [17, parseBytea], // bytea
  [20, (text) => text], // int8: beyond 2^53 a Number loses digits, so node-postgres keeps it text
  [21, parseInteger], // int2
  [23, parseInteger], // int4
  [26, parseInteger], // oid
  [114, parseJson], // json
  [600, parsePoint], // point
  [700, parseFloat], // float4
  [701, parseFloat], // float8
  [1082, parseDate], // date
  [1114, parseDate], // timestamp
  [1184, parseDate], // timestamptz
  [1700, (text) => text], // numeric: exact decimals have no JS type; text, as node-postgres
  [3802, parseJson], // jsonb
]

/** Array type OID to its element type OID. */
const arrays: [number, number][] = [
  [1000, 16], [1001, 17], [1005, 21], [1007, 23], [1016, 20], [1028, 26], [199, 114], [1017, 600],
  [1021, 700], [1022, 701], [1182, 1082], [1115, 1114], [1185, 1184], [1231, 1700], [3807, 3802],
  [1009, 25], [1015, 1043], [1014, 1042], [1003, 19], [2951, 2950], [1002, 18],
]

const scalarParsers = new Map(scalars)

export const defaultParsers: ReadonlyMap<number, (text: string) => unknown> = new Map([
  ...scalars,
  ...arrays.map(([array, element]): [number, (text: string) => unknown] => {
    const parse = scalarParsers.get(element) ?? ((text: string) => text)
    return [array, (text: string) => parseArray(text, parse)]
  }),
])

/** The overrides keyed by type OID, checked: a type name as a key would never match, and a value that is no function would fail mid-stream. */
function overridesByOid(overrides: Readonly<Record<number, (text: string) => unknown>>): Map<number, (text: string) => unknown> {
  return new Map(Object.entries(overrides).map(([oid, parse]) => {
    if (!/^\d+$/.test(oid)) throw new TypeError(`parse: the keys are type OIDs (114 for json), not ${JSON.stringify(oid)}`)
    if (typeof parse !== 'function') throw new TypeError(`parse: the override for type ${oid} must be a function`)
    return [Number(oid), parse]
  }))
}

/**
 * parse(text, typeOid): an override first, then the defaults, then the text as it is. A
 * value a parser cannot read is a ValueParseError that names the type.
 */
export function createValueParser(overrides?: ValueOverrides): ValueParser {
  const byOid = typeof overrides === 'object' && overrides !== null ? overridesByOid(overrides) : undefined
  if (overrides != null && typeof overrides !== 'function' && byOid === undefined) {
    throw new TypeError('parse must be a function (text, typeOid) or an object of functions keyed by type OID')
  }
  const first = typeof overrides === 'function' ? overrides : undefined
  return (text, typeOid) => {
    if (first !== undefined) {
      const value = first(text, typeOid)
      if (value !== undefined) return value
    }
    const parse = byOid?.get(typeOid) ?? defaultParsers.get(typeOid)
    if (parse === undefined) return text
    try {
      return parse(text)
    } catch (error) {
      if (error instanceof ValueParseError) throw new ValueParseError(`type ${typeOid}: ${error.message}`, { cause: error })
      throw error
    }
  }
}
