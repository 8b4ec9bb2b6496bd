/**
 * Laws of decodePgoutput, checked with fast-check over messages made by arbitraries and written
 * by the independent test builder (test/support/pgoutput-bytes.ts), and over arbitrary bytes.
 * xids and OIDs reach past 2^31, LSNs past 2^53, timestamps both signs.
 */
import { fc, test as property } from '@fast-check/vitest'
import { describe, expect } from 'vitest'
import { BodyReader } from '../../../src/protocol/bytes/reader.ts'
import { ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { decodePgoutput, type PgoutputContext } from '../../../src/protocol/replication/pgoutput/decode.ts'
import {
  unchangedToast,
  type Begin, type BeginPrepare, type ColumnValue, type Commit, type CommitPrepared, type Delete, type Insert, type Message,
  type Origin, type PgoutputMessage, type Prepare, type Relation, type RollbackPrepared, type StreamAbort, type StreamCommit,
  type StreamPrepare, type StreamStart, type StreamStop, type Truncate, type Type, type Update,
} from '../../../src/protocol/replication/pgoutput-messages.ts'
import { contextOf, pgoutputBytes } from '../../support/pgoutput-bytes.ts'

function decode(wire: Uint8Array, context: PgoutputContext, reader = new BodyReader()): PgoutputMessage {
  return decodePgoutput(reader.reset(wire, 0, wire.length), context)
}

/** The message, or the error thrown: whatever decoding came to. */
function outcome(wire: Uint8Array, context: PgoutputContext): PgoutputMessage | unknown {
  try {
    return decode(wire, context)
  } catch (error) {
    return error
  }
}

// Unsigned 32-bit, half the draws at 2^31 and over, where a signed read would turn negative.
const u32 = fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 2 ** 31, max: 2 ** 32 - 1 }))
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
// LSNs, half of them past 2^53, where a Number would round.
const lsn = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 53n }), fc.bigInt({ min: 2n ** 53n + 1n, max: 2n ** 64n - 1n }))
const setLsn = lsn.filter((value) => value !== 0n) // where proto.c requires a WAL position
const time = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
const text = fc.string({ unit: 'binary', maxLength: 12 })
const name = text.filter((s) => !s.includes('\0'))
const tuple = fc.array(
  fc.oneof(fc.constant(null), fc.constant(unchangedToast), text, fc.uint8Array({ maxLength: 8 })) as fc.Arbitrary<ColumnValue>,
  { maxLength: 6 },
)
const keyOrOld = fc.constantFrom('K' as const, 'O' as const)

/** fc.record, with the plain prototype a decoded message has (toStrictEqual compares prototypes). */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>
}

/** Messages of `base`, half of them with the xid in front that a message inside a stream carries; the other half have no `xid` key. */
function streamable<T extends object>(base: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof(base, fc.tuple(base, u32).map(([m, xid]) => ({ xid, ...m })))
}

const begin: fc.Arbitrary<Begin> = record({ type: fc.constant('Begin'), finalLsn: setLsn, commitTime: time, xid: u32 })
const message: fc.Arbitrary<Message> = streamable(record({ type: fc.constant('Message'), transactional: fc.boolean(), lsn, prefix: name, content: fc.uint8Array({ maxLength: 16 }) }))
const commit: fc.Arbitrary<Commit> = record({ type: fc.constant('Commit'), commitLsn: lsn, endLsn: lsn, commitTime: time })
const origin: fc.Arbitrary<Origin> = record({ type: fc.constant('Origin'), commitLsn: lsn, name })
const column = record({ key: fc.boolean(), name, typeOid: u32, typeModifier: i32 })
  .map(({ key, ...rest }) => ({ flags: key ? 1 : 0, isKey: key, ...rest }))
const relation: fc.Arbitrary<Relation> = streamable(record({
  type: fc.constant('Relation'), relationOid: u32, namespace: name, relationName: name,
  replicaIdentity: fc.constantFrom('d', 'n', 'f', 'i'), columns: fc.array(column, { maxLength: 5 }),
}))
const type: fc.Arbitrary<Type> = streamable(record({ type: fc.constant('Type'), typeOid: u32, namespace: name, typeName: name }))
const insert: fc.Arbitrary<Insert> = streamable(record({ type: fc.constant('Insert'), relationOid: u32, newTuple: tuple }))
const update: fc.Arbitrary<Update> = streamable(fc.oneof(
  record<Update>({ type: fc.constant('Update'), relationOid: u32, newTuple: tuple }),
  record<Update>({ type: fc.constant('Update'), relationOid: u32, oldKind: keyOrOld, oldTuple: tuple, newTuple: tuple }),
))
const del: fc.Arbitrary<Delete> = streamable(record({ type: fc.constant('Delete'), relationOid: u32, oldKind: keyOrOld, oldTuple: tuple }))
const truncate: fc.Arbitrary<Truncate> = streamable(record({
  type: fc.constant('Truncate'), cascade: fc.boolean(), restartIdentity: fc.boolean(), relationOids: fc.array(u32, { maxLength: 5 }),
}))
const streamStart: fc.Arbitrary<StreamStart> = record({ type: fc.constant('StreamStart'), xid: u32, firstSegment: fc.boolean() })
const streamStop: fc.Arbitrary<StreamStop> = fc.constant({ type: 'StreamStop' })
const streamCommit: fc.Arbitrary<StreamCommit> = record({ type: fc.constant('StreamCommit'), xid: u32, commitLsn: lsn, endLsn: lsn, commitTime: time })
const streamAbort: fc.Arbitrary<StreamAbort> = fc.oneof(
  record<StreamAbort>({ type: fc.constant('StreamAbort'), xid: u32, subxid: u32 }),
  record<StreamAbort>({ type: fc.constant('StreamAbort'), xid: u32, subxid: u32, abortLsn: lsn, abortTime: time }),
)
const beginPrepare: fc.Arbitrary<BeginPrepare> = record({ type: fc.constant('BeginPrepare'), prepareLsn: setLsn, endLsn: setLsn, prepareTime: time, xid: u32, gid: name })
const prepare: fc.Arbitrary<Prepare | StreamPrepare> = record({
  type: fc.constantFrom('Prepare', 'StreamPrepare'), prepareLsn: setLsn, endLsn: setLsn, prepareTime: time, xid: u32.filter((x) => x !== 0), gid: name,
})
const commitPrepared: fc.Arbitrary<CommitPrepared> = record({ type: fc.constant('CommitPrepared'), commitLsn: setLsn, endLsn: setLsn, commitTime: time, xid: u32, gid: name })
const rollbackPrepared: fc.Arbitrary<RollbackPrepared> = record({
  type: fc.constant('RollbackPrepared'), prepareEndLsn: setLsn, rollbackEndLsn: setLsn, prepareTime: time, rollbackTime: time, xid: u32, gid: name,
})

const anyMessage: fc.Arbitrary<PgoutputMessage> = fc.oneof(
  begin, message, commit, origin, relation, type, insert, update, del, truncate,
  streamStart, streamStop, streamCommit, streamAbort, beginPrepare, prepare, commitPrepared, rollbackPrepared,
)

const anyContext: fc.Arbitrary<PgoutputContext> = fc.record({ inStream: fc.boolean(), parallelAbort: fc.boolean() })

/** The message type each type byte names, from the docs' table of messages. */
const typeNames: Record<string, PgoutputMessage['type']> = {
  B: 'Begin', M: 'Message', C: 'Commit', O: 'Origin', R: 'Relation', Y: 'Type', I: 'Insert', U: 'Update', D: 'Delete', T: 'Truncate',
  S: 'StreamStart', E: 'StreamStop', c: 'StreamCommit', A: 'StreamAbort', b: 'BeginPrepare', P: 'Prepare', K: 'CommitPrepared',
  r: 'RollbackPrepared', p: 'StreamPrepare',
}

describe('decodePgoutput', () => {
  property.prop([anyMessage])('every message built by the test builder decodes to what was built', (m) => {
    expect(decode(pgoutputBytes(m), contextOf(m))).toStrictEqual(m)
  })

  property.prop([anyMessage, fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 })])(
    'a message decodes the same inside a larger buffer, the reader bounded to its bytes',
    (m, before, after) => {
      const wire = pgoutputBytes(m)
      const buffer = Uint8Array.from([...before, ...wire, ...after])
      const reader = new BodyReader().reset(buffer, before.length, before.length + wire.length)
      expect(decodePgoutput(reader, contextOf(m))).toStrictEqual(m)
    },
  )

  property.prop([fc.array(anyMessage, { minLength: 2, maxLength: 6 })])(
    'messages decoded one after another with one reader do not depend on what it read before',
    (messages) => {
      const reader = new BodyReader()
      for (const m of messages) expect(decode(pgoutputBytes(m), contextOf(m), reader)).toStrictEqual(m)
    },
  )

  property.prop([anyMessage])('every strict prefix of a message is a ProtocolViolationError', (m) => {
    const wire = pgoutputBytes(m)
    for (let cut = 0; cut < wire.length; cut++) {
      expect(outcome(wire.subarray(0, cut), contextOf(m))).toBeInstanceOf(ProtocolViolationError)
    }
  })

  property.prop([anyMessage, fc.integer({ min: 0, max: 255 })])('a message with one byte more is a ProtocolViolationError', (m, extra) => {
    expect(outcome(Uint8Array.from([...pgoutputBytes(m), extra]), contextOf(m))).toBeInstanceOf(ProtocolViolationError)
  })

  const arbitraryBytes = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    // A known type byte first, so that the draws reach into every decoder.
    fc.tuple(fc.constantFrom(...Object.keys(typeNames)), fc.uint8Array({ maxLength: 64 }))
      .map(([c, rest]) => Uint8Array.from([c.charCodeAt(0), ...rest])),
  )

  property.prop([arbitraryBytes, anyContext])(
    'arbitrary bytes decode to a message or a ProtocolViolationError, never anything else',
    (wire, context) => {
      const result = outcome(wire, context)
      if (result instanceof ProtocolViolationError) return
      // Not an error, so a message: the one its type byte names.
      expect(result).toHaveProperty('type', typeNames[String.fromCharCode(wire[0]!)])
    },
  )

  property.prop([fc.integer({ min: 0, max: 255 }).filter((b) => !(String.fromCharCode(b) in typeNames)), fc.uint8Array({ maxLength: 32 }), anyContext])(
    'any other type byte is a ProtocolViolationError',
    (typeByte, rest, context) => {
      expect(outcome(Uint8Array.from([typeByte, ...rest]), context)).toBeInstanceOf(ProtocolViolationError)
    },
  )
})
