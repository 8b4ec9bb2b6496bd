/**
 * What may be reported to the server as flushed: the acknowledgement contract of a replication
 * stream, kept apart from any I/O so that a model-based test can drive it. Pure; imports only
 * the LSN type.
 *
 * A logical slot moves by whole transactions: the server restarts decoding at its
 * confirmed_flush_lsn and skips every transaction whose commit record lies before it
 * (snapbuild.c, SnapBuildXactNeedsSkip). So an acknowledged change inside a transaction moves
 * nothing; only an acknowledged Commit (or Prepare, or a message outside any transaction) does,
 * to the LSN just past it. What was delivered but not acknowledged comes again after a restart.
 */
import type { Lsn } from '../protocol/replication/lsn.ts'

/** One item as the stream hands it on: in order, each with a sequence number. */
export interface Delivery {
  /** Acknowledging this item lets the slot forget everything up to this LSN (a Commit's end LSN). */
  readonly completes?: Lsn
  /** A transaction is still open after this item (a Begin, or a change before its Commit). */
  readonly open: boolean
}

export class AckLedger {
  /** The highest WAL position the server has told us of: reported as written. */
  #received: Lsn = 0n
  /** What the slot may forget: reported as flushed and applied. Only grows. */
  #flushed: Lsn
  /** Sequence numbers: of the last item delivered, and of the last one acknowledged. */
  #delivered = 0
  #acknowledged = 0
  /** Completion points not yet acknowledged, in delivery order. */
  readonly #completions: { seq: number; lsn: Lsn }[] = []
  /** After the last item delivered, a transaction is open. */
  #open = false

  /** `start`: where the stream starts (an LSN the application already has everything before). */
  constructor(start: Lsn = 0n) {
    this.#flushed = start
  }

  get flushed(): Lsn {
    return this.#flushed
  }

  get written(): Lsn {
    return this.#received > this.#flushed ? this.#received : this.#flushed
  }

  /** Every delivered item is acknowledged and no transaction is open. */
  get settled(): boolean {
    return this.#acknowledged === this.#delivered && !this.#open
  }

  /** The server's WAL position from an XLogData or keepalive header. */
  saw(walEnd: Lsn): void {
    if (walEnd > this.#received) this.#received = walEnd
  }

  /** An item is handed on; returns its sequence number, for ack(). */
  deliver(item: Delivery): number {
    const seq = ++this.#delivered
    if (item.completes !== undefined) this.#completions.push({ seq, lsn: item.completes })
    this.#open = item.open
    return seq
  }

  /**
   * The application is done with item `seq` and every item before it. Acknowledging an item
   * twice, or one older than the last acknowledged, changes nothing; one never delivered is a
   * RangeError, since reporting it could release changes nobody has seen.
   */
  ack(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.#delivered) {
      throw new RangeError(`item ${seq} was never delivered (the last was ${this.#delivered})`)
    }
    if (seq <= this.#acknowledged) return
    this.#acknowledged = seq
    const completions = this.#completions
    let done = 0
    while (done < completions.length && completions[done]!.seq <= seq) done++
    if (done > 0) {
      const lsn = completions[done - 1]!.lsn
      if (lsn > this.#flushed) this.#flushed = lsn
      completions.splice(0, done)
    }
  }

  /**
   * A keepalive reports the end of the WAL the server has sent. With nothing delivered and
   * unacknowledged and no transaction open, nothing before it is owed to the application: the
   * WAL up to there held only changes outside the publications (or nothing), and the slot may
   * move past them, as PostgreSQL's own apply worker does (worker.c, send_feedback with no
   * pending transactions). Otherwise the slot keeps it all.
   */
  idleAt(walEnd: Lsn): void {
    this.saw(walEnd)
    if (this.settled && walEnd > this.#flushed) this.#flushed = walEnd
  }

  /**
   * A new connection found the slot confirmed up to `confirmed`: the server will send nothing
   * before it, so with nothing owed the ledger starts there too. Never moves back.
   */
  resumeAt(confirmed: Lsn): void {
    if (this.settled && confirmed > this.#flushed) this.#flushed = confirmed
  }

  /**
   * The connection was lost: whatever was delivered and not acknowledged will come again from
   * the slot, in a new sequence. The positions stay.
   */
  restart(): void {
    this.#completions.length = 0
    this.#acknowledged = this.#delivered
    this.#open = false
  }
}
