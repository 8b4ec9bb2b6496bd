/**
 * The notifier: a second connection for notify(), queueUsage() and query(), opened when first
 * needed and again after it is lost. A reply on the listening connection comes only after every
 * notification already queued for it, so under a flood these would otherwise wait for, and pull
 * into memory, the whole backlog. A connection known to be gone (the server restarted while it
 * sat idle, or an error closed it) is never used again: the next call opens a new one instead
 * of failing. A call's signal gives up the opening it waits for, as it gives up a query.
 * Calls take turns on the connection, and one made outside a transaction that leaves one
 * failed has it rolled back: that caller's error is never the next caller's.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { closedError } from './errors.ts'

export interface NotifierOpen {
  /** Aborted by close(), or by the signal of a call that gave up the opening: the attempt must stop. */
  signal: AbortSignal
}

type Opened = Pick<Connection, 'isClosed' | 'close' | 'abort' | 'processId' | 'transactionStatus' | 'query'>

export class Notifier<C extends Opened = Connection> {
  #connection: Promise<C> | undefined
  /** The connection #connection resolved to, once it has. */
  #opened: C | undefined
  /** Stops #connection's opening: close() aborts it, and so does a call's signal, through #drop. */
  #attempt: AbortController | undefined
  /** Gives up #connection's opening, unless it has opened. */
  #drop: ((reason: Error) => void) | undefined
  #closed = false
  /** Per connection, what settles once the last call that asked for it is done with it. */
  readonly #turns = new WeakMap<C, Promise<void>>()
  /** The connections a call is running on (it has had its turn, and is not done). */
  readonly #running = new WeakSet<C>()

  constructor(private readonly open: (how: NotifierOpen) => Promise<C>) {}

  /** Its process ID once open: notifications sent through it carry it. */
  get processId(): Promise<number | undefined> {
    return this.#connection?.then((c) => c.processId, () => undefined) ?? Promise.resolve(undefined)
  }

  /**
   * Runs `operation` on the connection, once open. If `signal` aborts before then, the call
   * rejects at once, and the opening it waited for is dropped (a server that accepts and never
   * answers must not hold the call for the attempt's whole timeout); the other calls that
   * waited for it wait for a new one. Then the call waits for its turn on the connection (one
   * call at a time); a signal that aborts meanwhile gives up the call, and the connection
   * under the call it waits for (#turn says why). From then on, `operation` answers to the
   * signal. An aborted signal opens nothing.
   */
  async run<T>(operation: (connection: C) => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (;;) {
      if (this.#closed) throw closedError()
      if (signal?.aborted) throw aborted(signal, 'before it was sent')
      // An opening another call made, or the connection open now: not one made for this call.
      const shared = this.#connection !== undefined && !this.#opened?.isClosed
      const opening = this.#current()
      const attempt = this.#attempt!
      const drop = this.#drop!
      let stop!: () => void
      let connection: C
      try {
        connection = await new Promise<C>((resolve, reject) => {
          stop = () => {
            const error = aborted(signal!, 'while its connection was opening, which is dropped')
            drop(error)
            reject(error)
          }
          opening.then(resolve, (error: unknown) => {
            this.#forget(opening) // the next call tries again
            reject(error)
          })
          signal?.addEventListener('abort', stop, { once: true }) // after: its throw leaves no rejection unheard
        }).finally(() => signal?.removeEventListener('abort', stop))
      } catch (error) {
        // Stopped by close() (the loop's first line says so), or by another call's signal: this
        // call waits for a new opening.
        if (attempt.signal.aborted && !signal?.aborted) continue
        throw error
      }
      // One call at a time on a connection, as the server answers them. Waiting here, a call
      // has sent nothing: if the connection is lost meanwhile (the signal of the call before it
      // dropped it), it goes on over a new one instead of failing for another call's abort.
      const release = await this.#turn(connection, signal)
      let began: string | undefined
      try {
        if (this.#closed) throw closedError()
        // Lost under a call before this one. (One opened for this call and handed over closed
        // is tried, and fails: opening another, and another, could go on for ever.)
        if (shared && connection.isClosed) continue
        began = connection.transactionStatus
        return await operation(connection)
      } catch (error) {
        if (error instanceof ConnectionLostError) this.#forget(opening)
        throw error
      } finally {
        // A transaction left failed by a call made outside one ('BEGIN; SELECT 1/0; COMMIT': the
        // rest of the string is skipped) refuses every command but its end, so every later call,
        // notify() too, would fail with 25P02 "current transaction is aborted": it is rolled back
        // before the next call's turn. A call made inside one (an earlier call's BEGIN) leaves it
        // to that caller: rolled back here, the caller's next statements would run, and commit,
        // outside it. (So 'COMMIT; BEGIN; SELECT 1/0' inside one is left failed too.)
        if (began === 'I' && !connection.isClosed && connection.transactionStatus === 'E') void connection.query('ROLLBACK').catch(() => undefined).finally(release)
        else release()
      }
    }
  }

  /**
   * Waits until the calls that came before on `connection` are done, and returns what ends
   * this call's turn. If `signal` aborts first, the call rejects, leaving its place to the next
   * one, and drops the connection if a call is running on it: it cannot tell a slow call from
   * a connection that went silent under it, and a silent one must not hold every call after
   * it (as query()'s signal drops the connection its query runs on). The calls after it go on
   * over a new one.
   */
  async #turn(connection: C, signal: AbortSignal | undefined): Promise<() => void> {
    const before = this.#turns.get(connection) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((resolve) => (release = resolve))
    this.#turns.set(connection, before.then(() => mine))
    let stop!: () => void
    try {
      await new Promise<void>((resolve, reject) => {
        stop = () => {
          if (this.#running.has(connection)) connection.abort(new ConnectionLostError('a call waiting for this one was aborted; the connection is dropped', { cause: signal!.reason }))
          reject(aborted(signal!, 'before it was sent, while it waited for the call before it'))
        }
        before.then(resolve)
        if (signal?.aborted) stop()
        else signal?.addEventListener('abort', stop, { once: true })
      })
    } catch (error) {
      release()
      throw error
    } finally {
      signal?.removeEventListener('abort', stop)
    }
    this.#running.add(connection)
    return () => {
      this.#running.delete(connection)
      release()
    }
  }

  /** The open connection, or a new one if there is none or the last one is gone. */
  #current(): Promise<C> {
    // Gone, whether its close was reported (the server restarted while it sat idle) or not yet
    // (an error closes it at once; its socket's close event comes later): no use either way.
    if (this.#connection && !this.#opened?.isClosed) return this.#connection
    let opened = false
    const attempt = new AbortController()
    const opening: Promise<C> = this.open({ signal: attempt.signal }).then((connection) => {
      // Dropped by a call's signal, or close(), just as it opened: close it, since nobody else will.
      if (attempt.signal.aborted) {
        void connection.close()
        throw attempt.signal.reason
      }
      opened = true
      this.#opened = connection
      return connection
    })
    this.#connection = opening
    this.#opened = undefined
    this.#attempt = attempt
    this.#drop = (reason) => {
      if (opened) return // it opened after all: kept, and only the call is given up
      this.#forget(opening)
      attempt.abort(reason)
    }
    return opening
  }

  #forget(opening: Promise<C>): void {
    if (this.#connection === opening) this.#connection = undefined
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#attempt?.abort(closedError())
    const connection = this.#connection
    this.#connection = undefined
    await connection?.then((c) => c.close(), () => undefined)
  }
}

/** A call given up by its signal: nothing was lost but the call and, perhaps, the connection it ran on. */
function aborted(signal: AbortSignal, when: string): ConnectionLostError {
  return new ConnectionLostError(`the query was aborted ${when}`, { cause: signal.reason })
}
