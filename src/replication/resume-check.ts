/**
 * A reconnect's second look at the slot, made once START_REPLICATION holds it, over a
 * short-lived ordinary connection (the replication one, streaming, takes no SQL). Imports the
 * protocol's Connection type, errors, quoting and LSNs.
 *
 * Why a second look: the first (slot-check.ts) comes a round trip before START_REPLICATION,
 * and a slot moved in between (pg_replication_slot_advance, another consumer) is not refused
 * by the server: it starts from the slot's confirmed position instead (logical.c,
 * CreateDecodingContext: "cannot stream from %X/%X, minimum is %X/%X, forwarding"), and what
 * lay between is never sent. Once the walsender has answered with CopyBothResponse it holds
 * the slot (walsender.c, StartLogicalReplication acquires it before making the decoding
 * context), and nobody else can move it any more: ReplicationSlotAcquire refuses a slot
 * active in another process (55006), pg_replication_slot_advance included. While it is held,
 * only this stream's own standby status updates move its confirmed_flush_lsn
 * (LogicalConfirmReceivedLocation), so a look taken now, before the stream has sent any,
 * sees every move made before START, and none can come after.
 */
import type { Connection } from '../protocol/io/connection.ts'
import { ConnectionLostError } from '../protocol/errors.ts'
import { quoteLiteral } from '../protocol/quote.ts'
import { formatLsn, parseLsn, type Lsn } from '../protocol/replication/lsn.ts'
import { eq } from './admin.ts'
import { ReplicationError } from './errors.ts'

/** The slot was found further on than the stream had acknowledged, on a reconnect. */
export function movedPast(slot: string, acknowledged: Lsn, now: Lsn): ReplicationError {
  return new ReplicationError(`replication slot "${slot}" was moved past what this stream acknowledged (${formatLsn(acknowledged)}, now ${formatLsn(now)}) while it was reconnecting: advanced, used by another consumer, or dropped and made again; the changes between were not delivered here`)
}

/**
 * Resolves when the slot, held by the walsender `walsender` (its process ID), is confirmed no
 * further than `acknowledged`; rejects with movedPast's ReplicationError when it is, and with
 * a ConnectionLostError when the look cannot be made or proves nothing. `signal` ends it at
 * once (close(), the attempt's time is up).
 *
 * The row must name our walsender as the slot's active_pid: that proves the look reached the
 * server the stream is on (a host list, a load balancer, could send an ordinary connection
 * elsewhere) and that the slot is the one START_REPLICATION took (not dropped and made again
 * since). A look that proves nothing is no verdict: the stream (start.ts) goes on, guarded by
 * the first look alone, as it would if the look could not be made at all.
 */
export async function confirmResume(
  open: (signal: AbortSignal) => Promise<Connection>,
  signal: AbortSignal,
  { slot, walsender, acknowledged }: { slot: string; walsender: number | undefined; acknowledged: Lsn },
): Promise<void> {
  const sql = await open(signal)
  const abort = () => sql.abort(new ConnectionLostError('the look at the slot after START_REPLICATION was stopped', { cause: signal.reason }))
  signal.addEventListener('abort', abort, { once: true })
  try {
    if (signal.aborted) abort()
    const name = quoteLiteral(slot, sql.parameters.get('standard_conforming_strings') !== 'off')
    const [result] = await sql.query(`SELECT active_pid, confirmed_flush_lsn FROM pg_catalog.pg_replication_slots WHERE slot_name ${eq} ${name}`)
    const [pid, confirmed] = result?.rows[0] ?? []
    if (walsender !== undefined && pid !== String(walsender)) {
      throw new ConnectionLostError(`the look at replication slot "${slot}" after START_REPLICATION found it ${pid == null ? 'not held by any process' : `held by process ${pid}`}, not by this stream's walsender (${walsender}): the look reached another server, or the slot is not the one streaming`)
    }
    if (confirmed != null && parseLsn(confirmed) > acknowledged) throw movedPast(slot, acknowledged, parseLsn(confirmed))
  } finally {
    signal.removeEventListener('abort', abort)
    await sql.close().catch(() => undefined)
  }
}
