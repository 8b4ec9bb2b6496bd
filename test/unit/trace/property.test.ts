/**
 * Laws of the tracer, checked with fast-check: whatever bytes are sent, it writes lines and
 * never throws; every message is one line; and secrets never reach a line, whatever they are.
 */
import { fc, test } from '@fast-check/vitest'
import { describe, expect } from 'vitest'
import { ByteWriter } from '../../../src/protocol/bytes/writer.ts'
import { writePasswordMessage, writeQuery, writeSASLResponse } from '../../../src/protocol/frontend.ts'
import { createTracer } from '../../../src/protocol/trace/index.ts'
import { replicationCopyBoth } from '../../../src/protocol/trace/replication-line.ts'
import type { BackendMessage } from '../../../src/protocol/backend/messages.ts'
import { pgoutputBytes } from '../../support/pgoutput-bytes.ts'
import { concat, message } from '../../support/wire.ts'

/** The authentication request pending when the bytes are sent, if any; or a COPY BOTH under way. */
const request = fc.constantFrom<BackendMessage | undefined>(
  undefined,
  { type: 'AuthenticationCleartextPassword' },
  { type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] },
  { type: 'AuthenticationSASLContinue', data: new Uint8Array(0) },
  { type: 'CopyBothResponse', format: 0, columnFormats: [] },
)

/** A tracer with `request` pending, collecting lines; it reads a COPY BOTH as --trace does, as replication. */
function tracerAfter(pending: BackendMessage | undefined) {
  const lines: string[] = []
  const tracer = createTracer((line) => lines.push(line), { timestamps: true, copyBoth: replicationCopyBoth })
  if (pending) tracer.received(pending)
  lines.length = 0
  return { tracer, lines }
}

/** Bytes that look like frontend messages often enough to reach the decoders, and arbitrary otherwise. */
const frontendish = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  // A standby status update or hot standby feedback, near its length, in CopyData.
  fc.tuple(fc.constantFrom(0x72, 0x68), fc.uint8Array({ minLength: 26, maxLength: 36 })).map(([type, body]) => message('d', [type, ...body])),
  fc.tuple(fc.constantFrom(0x00, 0x70, 0x51, 0x64, 0x63, 0x66, 0x58, 0x53), fc.uint8Array({ maxLength: 40 })).map(([type, body]) =>
    type === 0 ? concat(Uint8Array.of(0, 0, 0, body.length + 4), body) : message(String.fromCharCode(type), [...body])),
  fc.array(fc.uint8Array({ maxLength: 20 }).map((body) => message('Q', [...body])), { maxLength: 4 }).map((parts) => concat(...parts)),
)

describe('any bytes', () => {
  test.prop([request, frontendish])('arbitrary bytes sent give lines, never a throw', (pending, bytes) => {
    const { tracer, lines } = tracerAfter(pending)
    expect(() => tracer.sent(bytes)).not.toThrow()
    if (bytes.length > 0) expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) {
      expect(line).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\tF\t(-?\d+|\?)\t[^\t]+(\t .*)?$/)
      expect(line).not.toMatch(/[\n\r\u2028\u2029]/)
    }
  })

  /** A body, often a String and then a few bytes: the shape of SASLInitialResponse, cut short. */
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.tuple(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 6 })).map(([name, rest]) => Uint8Array.from([...name.filter((b) => b !== 0), 0, ...rest])),
  )

  test.prop([request, fc.constantFrom(0x70, 0x51, 0x64, 0x66, 0x58), body, fc.uint8Array({ minLength: 1, maxLength: 40 })])(
    "a message's line does not depend on the bytes after it (reads stay inside the message)",
    (pending, type, body, trailing) => {
      const wire = message(String.fromCharCode(type), [...body])
      const alone = tracerAfter(pending)
      alone.tracer.sent(wire)
      const followed = tracerAfter(pending)
      followed.tracer.sent(concat(wire, trailing))
      expect(untimed(followed.lines[0]!)).toBe(untimed(alone.lines[0]!))
    },
  )

  test.prop([fc.array(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 5 })])(
    'several messages in one write give the same lines as one write each',
    (queries) => {
      const parts = queries.map((sql) => writeQuery(new ByteWriter(), sql.replace(/\0/g, '')).toBytes())
      const together = tracerAfter(undefined)
      together.tracer.sent(concat(...parts))
      const apart = tracerAfter(undefined)
      for (const part of parts) apart.tracer.sent(part)
      expect(together.lines.map(untimed)).toEqual(apart.lines.map(untimed))
    },
  )

  test.prop([fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 })])(
    'a notification is one line, whatever its channel and payload',
    (channel, payload) => {
      const { tracer, lines } = tracerAfter(undefined)
      tracer.received({ type: 'NotificationResponse', processId: 1, channel, payload })
      expect(lines).toHaveLength(1)
      expect(lines[0]).not.toMatch(/[\n\r\u2028\u2029]/)
    },
  )
})

/**
 * CopyData a WAL sender might send: arbitrary, or an XLogData or keepalive header with a
 * pgoutput type byte and arbitrary bytes after it, so that most decoders are reached.
 */
const walSenderish = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.tuple(fc.constantFrom(0x77, 0x6b), fc.uint8Array({ minLength: 24, maxLength: 24 }), fc.constantFrom(...'IUDBCRYTMOSEcAbPKrp'.split('').map((c) => c.charCodeAt(0))), fc.uint8Array({ maxLength: 48 }))
    .map(([type, header, pgoutput, rest]) => Uint8Array.from([type, ...header, pgoutput, ...rest])),
)

describe('streaming replication', () => {
  test.prop([fc.array(walSenderish, { maxLength: 6 })])('arbitrary CopyData in a COPY BOTH gives one line each, never a throw', (datas) => {
    const { tracer, lines } = tracerAfter({ type: 'CopyBothResponse', format: 0, columnFormats: [] })
    for (const data of datas) expect(() => tracer.received({ type: 'CopyData', data })).not.toThrow()
    expect(lines).toHaveLength(datas.length)
    for (const line of lines) {
      expect(line).toMatch(/^\S+ \S+\tB\t\d+\tCopyData\t .*$/)
      expect(line).not.toMatch(/[\n\r\u2028\u2029]/)
    }
  })

  test.prop([fc.array(fc.option(fc.string({ maxLength: 40 }), { nil: null }), { maxLength: 5 })])(
    'an inserted row is one line, whatever its text',
    (row) => {
      const { tracer, lines } = tracerAfter({ type: 'CopyBothResponse', format: 0, columnFormats: [] })
      const insert = pgoutputBytes({ type: 'Insert', relationOid: 16384, newTuple: row })
      tracer.received({ type: 'CopyData', data: Uint8Array.from([0x77, ...new Array(24).fill(0), ...insert]) })
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(' Insert relation=16384 new=(')
      expect(lines[0]).not.toMatch(/[\n\r\u2028\u2029]/)
    },
  )
})

describe('secrets', () => {
  test.prop([fc.string({ minLength: 1, maxLength: 100 }).filter((p) => !p.includes('\0'))])(
    'a PasswordMessage always prints as its length and [redacted], whatever the password',
    (password) => {
      const { tracer, lines } = tracerAfter({ type: 'AuthenticationCleartextPassword' })
      const bytes = writePasswordMessage(new ByteWriter(), password).toBytes()
      tracer.sent(bytes)
      expect(lines.map(untimed)).toEqual([`F\t${bytes.length - 1}\tPasswordMessage\t [redacted]`])
    },
  )

  test.prop([fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.base64String({ minLength: 4, maxLength: 24 })])(
    "a SCRAM proof never reaches the line, in base64 or in hex",
    (proof, nonce) => {
      const { tracer, lines } = tracerAfter({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] })
      tracer.sent(message('p', [...new TextEncoder().encode('SCRAM-SHA-256'), 0, 0xff, 0xff, 0xff, 0xff]))
      tracer.received({ type: 'AuthenticationSASLContinue', data: new TextEncoder().encode(`r=${nonce}x,s=c2FsdA==,i=4096`) })
      const base64 = Buffer.from(proof).toString('base64')
      tracer.sent(writeSASLResponse(new ByteWriter(), new TextEncoder().encode(`c=biws,r=${nonce}x,p=${base64}`)).toBytes())
      const shown = lines.join('\n')
      expect(shown).not.toContain(base64)
      expect(shown).not.toContain(Buffer.from(proof).toString('hex'))
      expect(lines.at(-1)).toMatch(/p=\[redacted\]'$/)
    },
  )

  test.prop([fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.uint8Array({ minLength: 4, maxLength: 256 })])(
    'a BackendKeyData always prints as its process ID and [redacted], whatever the key',
    (processId, secretKey) => {
      const { tracer, lines } = tracerAfter(undefined)
      tracer.received({ type: 'BackendKeyData', processId, secretKey })
      expect(lines.map(untimed)).toEqual([`B\t${8 + secretKey.length}\tBackendKeyData\t ${processId} [redacted]`])
    },
  )
})

/** The line without its timestamp column. */
function untimed(line: string): string {
  return line.slice(line.indexOf('\t') + 1)
}
