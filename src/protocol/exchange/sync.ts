/**
 * A Sync on its own, outside any extended query: the server answers with ReadyForQuery alone
 * and runs no statement, so nothing changes on the server, not even pg_stat_activity.query
 * (which an empty Query would blank). The listener's heartbeat. Pure: a generator over messages.
 *
 * Notifications committed before it are sent ahead of its ReadyForQuery, as for any query
 * (the backend delivers them when it goes idle).
 */
import type { BackendMessage, TransactionStatus } from '../backend/messages.ts'
import { ByteWriter } from '../bytes/writer.ts'
import { DatabaseError, ProtocolViolationError } from '../errors.ts'
import { writeSync } from '../frontend.ts'
import { nextMessage, send, type Step } from './steps.ts'

export function* syncRoundTrip(): Generator<Step, TransactionStatus, BackendMessage | undefined> {
  yield send(writeSync(new ByteWriter(8)).toBytes())
  let failure: Error | undefined
  for (;;) {
    const message = yield* nextMessage()
    if (message.type === 'ReadyForQuery') {
      if (failure) throw failure
      return message.status
    }
    if (message.type === 'ErrorResponse') failure ??= new DatabaseError(message.fields)
    else throw new ProtocolViolationError(`${message.type} in answer to a Sync`)
  }
}
