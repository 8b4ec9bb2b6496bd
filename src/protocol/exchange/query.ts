/**
 * The simple-query exchange ("Simple Query" in the protocol docs, section 55.2.2): one Query
 * message, possibly several statements, results as text. Pure: a generator over messages.
 *
 * After an ErrorResponse the server skips the rest of the string and still ends with
 * ReadyForQuery; we read on to it before failing, so the connection stays in sync.
 */
import type { BackendMessage, FieldDescription, TransactionStatus } from '../backend/messages.ts'
import { ByteWriter } from '../bytes/writer.ts'
import { DatabaseError, ProtocolViolationError } from '../errors.ts'
import { writeCopyFail, writeQuery } from '../frontend.ts'
import { nextMessage, send, type Step } from './steps.ts'

/** The outcome of one statement. */
export interface QueryResult {
  /** The CommandComplete tag, e.g. "SELECT 2", "INSERT 0 1", "LISTEN". */
  readonly command: string
  /** Empty for statements that return no rows. */
  readonly fields: readonly FieldDescription[]
  /** Each row's values as text, null for SQL NULL. */
  readonly rows: readonly (readonly (string | null)[])[]
}

export interface QueryOutcome {
  readonly results: QueryResult[]
  /** The transaction status from ReadyForQuery. */
  readonly status: TransactionStatus
}

/** COPY needs a data stream this client does not offer: named here so the refusal is clear. */
export class CopyNotSupportedError extends TypeError {
  override name = 'CopyNotSupportedError'
}

export function* simpleQuery(sql: string): Generator<Step, QueryOutcome, BackendMessage | undefined> {
  yield send(writeQuery(new ByteWriter(sql.length + 16), sql).toBytes())
  const results: QueryResult[] = []
  let fields: readonly FieldDescription[] | undefined
  let rows: (string | null)[][] = []
  let failure: Error | undefined
  for (;;) {
    const message = yield* nextMessage()
    switch (message.type) {
      case 'RowDescription':
        fields = message.fields
        rows = []
        break
      case 'DataRow':
        if (fields === undefined) throw new ProtocolViolationError('DataRow without a RowDescription')
        if (message.values.length !== fields.length) {
          throw new ProtocolViolationError(`DataRow has ${message.values.length} values for ${fields.length} fields`)
        }
        rows.push(message.values as (string | null)[])
        break
      case 'CommandComplete':
        results.push({ command: message.tag, fields: fields ?? [], rows: fields ? rows : [] })
        fields = undefined
        rows = []
        break
      case 'EmptyQueryResponse':
        break
      case 'ErrorResponse':
        // The first failure is the one to report: after our CopyFail the server's error only echoes it.
        failure ??= new DatabaseError(message.fields)
        break
      case 'CopyInResponse':
        // COPY FROM STDIN: refuse with CopyFail; the server answers ErrorResponse, ReadyForQuery.
        failure = new CopyNotSupportedError('COPY FROM STDIN is not supported; the connection remains usable')
        yield send(writeCopyFail(new ByteWriter(64), 'COPY is not supported by pglisten').toBytes())
        break
      case 'CopyOutResponse':
        // COPY TO STDOUT: the data follows as CopyData, then CopyDone; we drop it.
        failure = (yield* skipCopyData()) ?? new CopyNotSupportedError('COPY TO STDOUT is not supported; its data was discarded')
        break
      case 'CopyBothResponse':
        // Streaming replication has no way back to the simple query flow: the session ends.
        throw new CopyNotSupportedError('COPY BOTH (replication) is not supported; the connection is closed')
      case 'ReadyForQuery':
        if (failure) throw failure
        return { results, status: message.status }
      default:
        throw new ProtocolViolationError(`unexpected ${message.type} during a simple query`)
    }
  }
}

/** Reads past CopyData to CopyDone; an ErrorResponse ends the copy early and is returned. */
function* skipCopyData(): Generator<Step, DatabaseError | undefined, BackendMessage | undefined> {
  for (;;) {
    const message = yield* nextMessage()
    if (message.type === 'CopyDone') return undefined
    if (message.type === 'ErrorResponse') return new DatabaseError(message.fields)
    if (message.type !== 'CopyData') throw new ProtocolViolationError(`unexpected ${message.type} during COPY OUT`)
  }
}
