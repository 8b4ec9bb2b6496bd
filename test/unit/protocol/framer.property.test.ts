/**
 * Laws of the framer, checked with fast-check over generated messages and arbitrary bytes.
 */
import { fc, test } from '@fast-check/vitest'
import { describe, expect } from 'vitest'
import type { BackendMessage } from '../../../src/protocol/backend/messages.ts'
import { ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { Framer, type FramerOptions } from '../../../src/protocol/framer.ts'
import { decodeLatin1Fast, decodeUtf8Fast } from '../../../src/protocol/io/node-bytes.ts'
import { ShortStrings } from '../../../src/protocol/bytes/short-strings.ts'
import { frame, oneByteAtATime } from '../../support/framing.ts'
import { ascii, backend, bytes, concat } from '../../support/wire.ts'

/** Text PostgreSQL could send: any Unicode without NUL (lone surrogates cannot be UTF-8). */
const text = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0'))

/**
 * Payloads around ShortStrings' limit of 12 bytes: mostly ASCII, sometimes a multi-byte
 * character, a byte of 0x7f, or a NUL (which the server never sends, and must be refused).
 */
const shortPayload = fc.string({
  unit: fc.oneof({ weight: 30, arbitrary: fc.constantFrom('a', '7', ' ', '\x7f') }, fc.constantFrom('é', '€'), { weight: 1, arbitrary: fc.constant('\0') }),
  maxLength: 14,
})

/** `wire` read as a socket with one reused read buffer delivers it: the same array, refilled. */
function* reusedReads(wire: Uint8Array, length: number): Generator<Uint8Array> {
  const buffer = new Uint8Array(length)
  for (let at = 0; at < wire.length; at += length) {
    const chunk = wire.subarray(at, at + length)
    buffer.set(chunk)
    yield chunk.length === length ? buffer : buffer.subarray(0, chunk.length)
  }
}

type Pair = [Uint8Array, BackendMessage]
const pair = (bytes: Uint8Array, message: BackendMessage): Pair => [bytes, message]

/** A backend message as bytes (built by the test-side builder) and as the object it must decode to. */
const anyMessage: fc.Arbitrary<Pair> = fc.oneof(
  fc.tuple(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), text, text).map(([pid, channel, payload]) => pair(
    backend.notificationResponse(pid, channel, payload),
    { type: 'NotificationResponse', processId: pid, channel, payload },
  )),
  fc.array(fc.option(text, { nil: null }), { maxLength: 5 }).map((values) => pair(
    backend.dataRow(...values),
    { type: 'DataRow', values },
  )),
  text.map((tag) => pair(backend.commandComplete(tag), { type: 'CommandComplete', tag })),
  fc.constantFrom('I' as const, 'T' as const, 'E' as const).map((status) => pair(backend.readyForQuery(status), { type: 'ReadyForQuery', status })),
  fc.tuple(text, text).map(([name, value]) => pair(backend.parameterStatus(name, value), { type: 'ParameterStatus', name, value })),
  fc.tuple(text, text).map(([code, message]) => pair(
    backend.noticeResponse({ C: code, M: message }),
    { type: 'NoticeResponse', fields: { code, message } },
  )),
)

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let from = 0
  for (const to of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, to))
    from = to
  }
  return chunks
}

describe('framer laws', () => {
  test.prop([fc.array(anyMessage, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 })])(
    'framing does not depend on chunk boundaries',
    (messages, cuts) => {
      const wire = concat(...messages.map(([bytes]) => bytes))
      const expected = messages.map(([, message]) => message)
      expect(frame([wire])).toEqual(expected)
      expect(frame(split(wire, cuts))).toEqual(expected)
    },
  )

  test.prop([fc.array(anyMessage, { minLength: 1, maxLength: 5 })])(
    'framing one byte at a time gives the same messages',
    (messages) => {
      const wire = concat(...messages.map(([bytes]) => bytes))
      expect(frame(oneByteAtATime(wire))).toEqual(messages.map(([, message]) => message))
    },
  )

  test.prop([fc.array(anyMessage, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 10 })])(
    'the Node decoder gives the same messages as the portable one',
    (messages, cuts) => {
      const wire = concat(...messages.map(([bytes]) => bytes))
      expect(frame(split(wire, cuts), { decodeText: decodeUtf8Fast })).toEqual(frame([wire]))
    },
  )

  test.prop([
    fc.array(fc.tuple(fc.constantFrom('jobs', 'é'), shortPayload), { minLength: 1, maxLength: 40 }),
    fc.integer({ min: 1, max: 70 }),
  ])(
    'short payloads cut from a decoded window equal those decoded one by one, though the read buffer is reused',
    (notifications, chunkLength) => {
      const wire = concat(...notifications.map(([channel, payload], i) => backend.notificationResponse(i, channel, payload)))
      // Every message up to the first error (a NUL inside a payload), then the error's text.
      const outcome = (options: FramerOptions, chunks: Iterable<Uint8Array>) => {
        const framer = new Framer(options)
        const seen: (BackendMessage | string)[] = []
        try {
          for (const chunk of chunks) {
            framer.push(chunk)
            for (let m = framer.next(); m !== undefined; m = framer.next()) seen.push(m)
          }
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolViolationError)
          seen.push((error as Error).message)
        }
        return seen
      }
      const windowed = { decodeText: decodeUtf8Fast, shortStrings: () => new ShortStrings(decodeLatin1Fast!) }
      expect(outcome(windowed, reusedReads(wire, chunkLength))).toEqual(outcome({}, [wire]))
    },
  )

  test.prop([fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 10 })])(
    'arbitrary bytes yield messages or a ProtocolViolationError, never anything else',
    (wire, cuts) => {
      for (const decodeText of [undefined, decodeUtf8Fast]) {
        try {
          const messages = frame(split(wire, cuts), { decodeText })
          for (const m of messages) expect(typeof m.type).toBe('string')
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolViolationError)
        }
      }
    },
  )

  test.prop([fc.uint8Array({ minLength: 1, maxLength: 64 })])(
    'random bytes after a valid header decide the same way whole or split',
    (body) => {
      // A plausible header in front of random bytes reaches the decoders far more often.
      const type = body[0]!
      const wire = concat(Uint8Array.of(type, 0, 0, 0, body.length + 3), body.subarray(1))
      const outcome = (chunks: Uint8Array[]) => {
        try {
          return frame(chunks)
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolViolationError)
          return (error as Error).message
        }
      }
      expect(outcome(oneByteAtATime(wire))).toEqual(outcome([wire]))
    },
  )
})

describe('framer buffers', () => {
  test('a chunk that the caller overwrites after next() returned undefined does not corrupt the next message', () => {
    const wire = backend.notificationResponse(1, 'chan', 'payload that straddles two chunks')
    const chunk = new Uint8Array(10)
    const framer = new Framer()
    chunk.set(wire.subarray(0, 10))
    framer.push(chunk)
    expect(framer.next()).toBeUndefined()
    chunk.fill(0xee) // like a socket reusing its read buffer
    framer.push(wire.subarray(10))
    expect(framer.next()).toEqual({ type: 'NotificationResponse', processId: 1, channel: 'chan', payload: 'payload that straddles two chunks' })
  })

  test('own() copies the unread rest of a borrowed chunk, so the caller may overwrite it before next() runs dry', () => {
    const chunk = concat(backend.notificationResponse(1, 'chan', 'first'), backend.notificationResponse(2, 'chan', 'second'))
    const framer = new Framer()
    framer.push(chunk)
    expect(framer.next()).toEqual({ type: 'NotificationResponse', processId: 1, channel: 'chan', payload: 'first' })
    framer.own()
    chunk.fill(0xee)
    expect(framer.next()).toEqual({ type: 'NotificationResponse', processId: 2, channel: 'chan', payload: 'second' })
    expect(framer.next()).toBeUndefined()
  })

  test('storage grows with the bytes that arrive, not with the length a message declares', () => {
    const allocated: number[] = []
    const framer = new Framer({ allocate: (length) => (allocated.push(length), new Uint8Array(length)) })
    // DataRow declaring 64 MiB (the default maximum), of which only 10 bytes come.
    const header = bytes(0x44, 0x04, 0x00, 0x00, 0x00) // Byte1('D') Int32(67108864)
    framer.push(concat(header, new Uint8Array(10)))
    expect(framer.next()).toBeUndefined()
    expect(Math.max(...allocated)).toBeLessThanOrEqual(4096)
    // A real big message still arrives whole, however it is cut, and its storage only doubles.
    const row = concat(
      bytes(0x44, 0x00, 0x0f, 0x42, 0x4a), // Byte1('D') Int32(1000010): 4 + 2 + 4 + 1,000,000
      bytes(0x00, 0x01), //                  Int16(1)   one column
      bytes(0x00, 0x0f, 0x42, 0x40), //      Int32(1000000) its length
      new Uint8Array(1_000_000).fill(0x78), // 'x' × 1,000,000
    )
    const big = new Framer({ allocate: (length) => (allocated.push(length), new Uint8Array(length)) })
    allocated.length = 0
    for (let at = 0; at < row.length; at += 65_536) {
      big.push(row.subarray(at, at + 65_536))
      if (at + 65_536 < row.length) expect(big.next()).toBeUndefined()
    }
    expect(big.next()).toEqual({ type: 'DataRow', values: ['x'.repeat(1_000_000)] })
    expect(Math.max(...allocated)).toBe(row.length) // doubling stops at the message's own size
    expect(allocated).toEqual([131_072, 262_144, 524_288, row.length]) // doublings, not one per chunk
    // The same in 1,000-byte chunks: still doublings, still no more than its size.
    const small = new Framer({ allocate: (length) => (allocated.push(length), new Uint8Array(length)) })
    allocated.length = 0
    for (let at = 0; at < row.length; at += 1000) {
      small.push(row.subarray(at, at + 1000))
      if (at + 1000 < row.length) expect(small.next()).toBeUndefined()
    }
    expect(small.next()).toMatchObject({ type: 'DataRow' })
    expect(allocated).toEqual([4096, 8192, 16_384, 32_768, 65_536, 131_072, 262_144, 524_288, row.length])
  })

  test('buffered counts bytes not yet returned', () => {
    const framer = new Framer()
    const wire = backend.readyForQuery()
    framer.push(wire.subarray(0, 3))
    expect(framer.next()).toBeUndefined()
    expect(framer.buffered).toBe(3)
    framer.push(wire.subarray(3))
    expect(framer.next()).toEqual({ type: 'ReadyForQuery', status: 'I' })
    expect(framer.buffered).toBe(0)
  })
})

describe('framer edges', () => {
  /** A framer whose allocations are recorded. */
  function counted(options: FramerOptions = {}) {
    const allocated: number[] = []
    const framer = new Framer({ ...options, allocate: (length) => (allocated.push(length), new Uint8Array(length)) })
    return { framer, allocated }
  }

  test('maxMessageLength: an integer in 4..2^31 - 1, or a RangeError naming it', () => {
    for (const max of [4, 2 ** 31 - 1]) expect(() => new Framer({ maxMessageLength: max })).not.toThrow()
    for (const max of [3, 2 ** 31, 1.5, Number.NaN]) {
      expect(() => new Framer({ maxMessageLength: max })).toThrow(new RangeError(`maxMessageLength must be an integer in 4..2147483647, not ${max}`))
    }
  })

  test('a length of exactly 4 is a message with an empty body; 3 is a protocol violation', () => {
    const framer = new Framer()
    framer.push(bytes(0x63, 0x00, 0x00, 0x00, 0x04)) // Byte1('c') Int32(4): CopyDone
    expect(framer.next()).toEqual({ type: 'CopyDone' })
    const short = new Framer()
    short.push(bytes(0x63, 0x00, 0x00, 0x00, 0x03))
    expect(() => short.next()).toThrow(new ProtocolViolationError('message length 3 is less than the 4 bytes of the length itself'))
  })

  test('a declared length over the maximum is refused before anything is read or allocated', () => {
    const { framer, allocated } = counted({ maxMessageLength: 100 })
    framer.push(bytes(0x44, 0x00, 0x00, 0x00, 0x65)) // Byte1('D') Int32(101)
    expect(() => framer.next()).toThrow(new ProtocolViolationError('message length 101 exceeds the maximum of 100'))
    expect(allocated).toEqual([])
  })

  test('after a protocol violation the framer stays failed: push() and next() throw the same error, and nothing is kept', () => {
    const framer = new Framer()
    // NotificationResponse whose channel has no NUL before the body ends.
    framer.push(concat(bytes(0x41, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x01), Uint8Array.from(ascii('chan')), backend.readyForQuery()))
    let failure: unknown
    try {
      framer.next()
    } catch (error) {
      failure = error
    }
    expect(failure).toBeInstanceOf(ProtocolViolationError)
    expect(() => framer.next()).toThrow(failure as Error)
    expect(() => framer.push(backend.readyForQuery())).toThrow(failure as Error)
    expect(framer.buffered).toBe(0)
  })

  test("an error that is not the server's fault (a decoder that throws) does not fail the framer: the next message still comes", () => {
    let calls = 0
    const framer = new Framer({
      decodeText: (data, start, end) => {
        if (++calls === 1) throw new TypeError('a bug in a decoder')
        return new TextDecoder().decode(data.subarray(start, end))
      },
    })
    framer.push(concat(backend.parameterStatus('a', 'b'), backend.parameterStatus('c', 'd')))
    expect(() => framer.next()).toThrow(TypeError)
    expect(framer.next()).toEqual({ type: 'ParameterStatus', name: 'c', value: 'd' })
  })

  test('unread bytes left in its own storage move to the front before more are added (three messages, the last cut)', () => {
    const one = backend.parameterStatus('first', 'x'.repeat(30))
    const two = backend.parameterStatus('second', 'y'.repeat(30))
    const three = backend.parameterStatus('third', 'z'.repeat(30))
    const wire = concat(one, two, three)
    const framer = new Framer()
    const cut1 = one.length + 10 // in the second message
    const cut2 = one.length + two.length + 10 // in the third
    framer.push(wire.slice(0, cut1))
    expect(framer.next()).toMatchObject({ name: 'first' })
    expect(framer.next()).toBeUndefined() // the second's start moves to owned storage
    framer.push(wire.slice(cut1, cut2))
    expect(framer.next()).toMatchObject({ name: 'second' })
    expect(framer.next()).toBeUndefined() // the third's start is no longer at the front
    framer.push(wire.slice(cut2))
    expect(framer.next()).toEqual({ type: 'ParameterStatus', name: 'third', value: 'z'.repeat(30) })
    expect(framer.next()).toBeUndefined()
  })

  test('a chunk far larger than the room reserved for a message still fits', () => {
    const row = concat(bytes(0x44, 0x00, 0x01, 0x86, 0xaa), bytes(0x00, 0x01), bytes(0x00, 0x01, 0x86, 0xa0), new Uint8Array(100_000).fill(0x61)) // DataRow: one 100,000-byte value
    const framer = new Framer()
    framer.push(row.slice(0, 3))
    expect(framer.next()).toBeUndefined()
    framer.push(row.slice(3))
    expect(framer.next()).toEqual({ type: 'DataRow', values: ['a'.repeat(100_000)] })
  })

  test('storage: none for whole messages, one block reused for messages that straddle, a big one let go once read', () => {
    const { framer, allocated } = counted()
    framer.push(concat(backend.readyForQuery(), backend.readyForQuery()))
    expect([framer.next(), framer.next(), framer.next()]).toEqual([{ type: 'ReadyForQuery', status: 'I' }, { type: 'ReadyForQuery', status: 'I' }, undefined])
    expect(allocated).toEqual([]) // read from the caller's chunk, borrowed
    for (let i = 0; i < 3; i++) {
      const message = backend.parameterStatus('n', String(i))
      framer.push(message.slice(0, 4))
      expect(framer.next()).toBeUndefined()
      framer.push(message.slice(4))
      expect(framer.next()).toMatchObject({ value: String(i) })
    }
    expect(allocated).toEqual([4096]) // one block, kept and reused
    const big = concat(bytes(0x44, 0x00, 0x05, 0x00, 0x0a), bytes(0x00, 0x01), bytes(0x00, 0x05, 0x00, 0x00), new Uint8Array(0x50000).fill(0x62)) // DataRow of 320 KiB
    for (let at = 0; at < big.length; at += 65_536) {
      framer.push(big.slice(at, at + 65_536))
      while (framer.next() !== undefined); // as the I/O edge reads: until there is no whole message
    }
    const afterBig = allocated.length
    const message = backend.parameterStatus('n', 'after')
    framer.push(message.slice(0, 4))
    expect(framer.next()).toBeUndefined()
    expect(allocated.slice(afterBig)).toEqual([4096]) // the 320 KiB block was let go, not kept for a small message
  })

  test('storage a small message straddled is kept while the framer empties, and reused when it is just big enough', () => {
    const { framer, allocated } = counted()
    for (let i = 0; i < 3; i++) {
      const message = backend.parameterStatus('n', String(i))
      framer.push(message.slice(0, 4))
      expect(framer.next()).toBeUndefined()
      framer.push(message.slice(4))
      // As the I/O edge reads: until undefined, which finds the framer empty each time.
      expect([framer.next(), framer.next()]).toEqual([{ type: 'ParameterStatus', name: 'n', value: String(i) }, undefined])
    }
    // A message of exactly the block's 4096 bytes, half of it come: room for it all, in the same block.
    const value = 'v'.repeat(4096 - 5 - 1 - 1) // type, length, the empty name's NUL, the value's NUL
    const exact = backend.parameterStatus('', value)
    expect(exact.length).toBe(4096)
    framer.push(exact.slice(0, 2048))
    expect(framer.next()).toBeUndefined()
    framer.push(exact.slice(2048))
    expect([framer.next(), framer.next()]).toEqual([{ type: 'ParameterStatus', name: '', value }, undefined])
    expect(allocated).toEqual([4096]) // one block for all four
  })
})
