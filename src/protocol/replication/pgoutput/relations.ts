/**
 * Decoders of the messages that describe a table or a type before the changes that use them:
 * Relation and Type. Pure: reads from a BodyReader bounded to one pgoutput message, past its
 * type byte and the streamed xid. Names repeat across a session (each table is described again
 * after every change to its definition, and in every streamed transaction), so they are interned.
 */
import type { BodyReader } from '../../bytes/reader.ts'
import { ProtocolViolationError } from '../../errors.ts'
import type { Relation, RelationColumn, ReplicaIdentity, Type } from '../pgoutput-messages.ts'
import { describeByte, readOid, withXid } from './fields.ts'

/** Column flags, bit 1 (LOGICALREP_IS_REPLICA_IDENTITY in proto.c); the others are ignored, as there. */
const keyFlag = 1

/**
 * A column takes at least 10 bytes: its flags, an empty name's NUL and two Int32s. Checked
 * before the loop so that a count the body cannot hold is named as such.
 */
const minimumColumnLength = 10

/**
 * Relation
 *   Byte1('R') [Int32 xid] Int32 relationOid String namespace String relationName
 *   Int8 replicaIdentity Int16 columnCount, then per column:
 *     Int8 flags String name Int32 typeOid Int32 typeModifier
 */
export function decodeRelation(r: BodyReader, xid: number | undefined): Relation {
  const relationOid = readOid(r, 'Relation OID')
  // The empty string stands for pg_catalog (logicalrep_write_namespace); left as sent, so
  // that what was decoded is what came.
  const namespace = r.internedCString('Relation namespace')
  const relationName = r.internedCString('Relation name')
  const replicaIdentity = readReplicaIdentity(r)
  const count = r.int16('Relation column count')
  if (count < 0 || count * minimumColumnLength > r.remaining) {
    throw new ProtocolViolationError(`Relation: ${count} columns cannot fit in ${r.remaining} bytes`)
  }
  const columns: RelationColumn[] = []
  for (let i = 0; i < count; i++) {
    const flags = r.byte('Relation column flags')
    columns.push({
      flags,
      isKey: (flags & keyFlag) !== 0,
      name: r.internedCString('Relation column name'),
      typeOid: readOid(r, 'Relation column type OID'),
      typeModifier: r.int32('Relation column type modifier'),
    })
  }
  r.end('Relation')
  return withXid<Relation>({ type: 'Relation', relationOid, namespace, relationName, replicaIdentity, columns }, xid)
}

/**
 * Int8 replica identity, pg_class.relreplident. proto.c passes on any byte; here the type is
 * the four values pg_class can hold (REPLICA_IDENTITY_DEFAULT, _NOTHING, _FULL, _INDEX), so
 * that a consumer can switch over them exhaustively, and any other byte is refused.
 */
function readReplicaIdentity(r: BodyReader): ReplicaIdentity {
  const byte = r.byte('Relation replica identity')
  const identity = String.fromCharCode(byte)
  if (identity === 'd' || identity === 'n' || identity === 'f' || identity === 'i') return identity
  throw new ProtocolViolationError(`Relation replica identity: ${describeByte(byte)} is none of 'd', 'n', 'f', 'i'`)
}

/**
 * Type
 *   Byte1('Y') [Int32 xid] Int32 typeOid String namespace String typeName
 */
export function decodeType(r: BodyReader, xid: number | undefined): Type {
  const typeOid = readOid(r, 'Type OID')
  const namespace = r.internedCString('Type namespace')
  const typeName = r.internedCString('Type name')
  r.end('Type')
  return withXid<Type>({ type: 'Type', typeOid, namespace, typeName }, xid)
}
