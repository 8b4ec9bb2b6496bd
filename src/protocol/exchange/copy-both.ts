/**
 * The COPY BOTH exchange ("Streaming Replication Protocol" and "COPY Operations" in the
 * protocol docs): a command such as START_REPLICATION, answered by CopyBothResponse; then
 * CopyData flows both ways until each side has sent CopyDone, and the server ends the command
 * with CommandComplete and ReadyForQuery. Pure: a generator over messages.
 *
 * The client's CopyData and CopyDone are sent outside this exchange (Connection.sendCopy and
 * endCopy), at any moment, so that a status update never waits for the server to speak.
 */
import type { BackendMessage, CopyResponse } from '../backend/messages.ts'
import { ByteWriter } from '../bytes/writer.ts'
import { DatabaseError, ProtocolViolationError } from '../errors.ts'
import { writeQuery } from '../frontend.ts'
import { nextMessage, send, type Step } from './steps.ts'

export interface CopyBothHandlers {
  /** CopyBothResponse arrived: from now on the client may send CopyData. */
  onStarted?(response: CopyResponse): void
  /** Each CopyData from the server, in order. Session.run's onCopyData may take them first. */
  onData(data: Uint8Array): void
  /** The server sent CopyDone: it will send no more CopyData, and the client may send none either. */
  onServerDone?(): void
}

export interface CopyBothOutcome {
  /** The CommandComplete tags after the copy (START_REPLICATION's own, for a walsender). */
  readonly commands: readonly string[]
}

/**
 * Runs `command`, which must start COPY BOTH, to the ReadyForQuery that follows the copy. An
 * ErrorResponse (a slot in use, the walsender terminated with an ERROR) is read on to
 * ReadyForQuery and then thrown, so the connection stays in step.
 */
export function* copyBoth(command: string, handlers: CopyBothHandlers): Generator<Step, CopyBothOutcome, BackendMessage | undefined> {
  yield send(writeQuery(new ByteWriter(command.length + 16), command).toBytes())
  let started = false
  let serverDone = false
  let failure: DatabaseError | undefined
  const commands: string[] = []
  for (;;) {
    const message = yield* nextMessage()
    switch (message.type) {
      case 'CopyBothResponse':
        if (started) throw new ProtocolViolationError('a second CopyBothResponse in one command')
        started = true
        handlers.onStarted?.(message)
        break
      case 'CopyData':
        if (!started) throw new ProtocolViolationError('CopyData before CopyBothResponse')
        // A walsender may still send a keepalive after its CopyDone (seen on PostgreSQL 18);
        // libpq drops CopyData outside a copy silently (pqParseInput3), and so do we.
        if (!serverDone) handlers.onData(message.data)
        break
      case 'CopyDone':
        if (!started || serverDone) throw new ProtocolViolationError(`CopyDone ${started ? 'twice' : 'before CopyBothResponse'}`)
        serverDone = true
        handlers.onServerDone?.()
        break
      case 'RowDescription':
      case 'DataRow':
        // After a physical stream reaches the end of a timeline, the next one is described as
        // a result set; logical replication never sends one, and pglisten does not use it.
        if (!serverDone) throw new ProtocolViolationError(`unexpected ${message.type} during COPY BOTH`)
        break
      case 'CommandComplete':
        commands.push(message.tag)
        break
      case 'ErrorResponse':
        failure ??= new DatabaseError(message.fields)
        break
      case 'ReadyForQuery':
        if (failure) throw failure
        if (!started) throw new TypeError(`${JSON.stringify(command.slice(0, 40))} did not start COPY BOTH`)
        return { commands }
      default:
        throw new ProtocolViolationError(`unexpected ${message.type} during COPY BOTH`)
    }
  }
}
