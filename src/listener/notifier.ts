/**
 * The notifier: a second connection for notify(), queueUsage() and query(), opened when first
 * needed and again after it is lost. A reply on the listening connection comes only after every
 * notification already queued for it, so under a flood these would otherwise wait for, and pull
 * into memory, the whole backlog. A connection known to be gone (the server restarted while it
 * sat idle) is never used again: the next call opens a new one instead of failing.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { closedError } from './errors.ts'

export interface NotifierOpen {
  /** Aborted by close(): the attempt must stop. */
  signal: AbortSignal
  /** To be called when the connection ends, however it ends; a call before the opening resolves is ignored. */
  onClose: () => void
}

type Opened = Pick<Connection, 'isClosed' | 'close' | 'processId'>

export class Notifier<C extends Opened = Connection> {
  #connection: Promise<C> | undefined
  #closed = false
  readonly #stop = new AbortController()

  constructor(private readonly open: (how: NotifierOpen) => Promise<C>) {}

  /** Its process ID once open: notifications sent through it carry it. */
  get processId(): Promise<number | undefined> {
    return this.#connection?.then((c) => c.processId, () => undefined) ?? Promise.resolve(undefined)
  }

  async run<T>(operation: (connection: C) => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError()
    const opening = this.#current()
    const connection = await opening.catch((error: unknown) => {
      this.#forget(opening) // the next call tries again
      throw error
    })
    if (this.#closed) throw closedError()
    try {
      return await operation(connection)
    } catch (error) {
      if (error instanceof ConnectionLostError) this.#forget(opening)
      throw error
    }
  }

  /** The open connection, or a new one if there is none or the last one is gone. */
  #current(): Promise<C> {
    const cached = this.#connection
    if (cached) return cached
    // A close counts once the connection is ours. connect() tells onClose only of the connection it
    // returns; an opener that told of one it tried and left (a standby) must not make us forget this one.
    let ours = false
    const opening: Promise<C> = this.open({ signal: this.#stop.signal, onClose: () => ours && this.#forget(opening) }).then((connection) => {
      ours = true
      // It may have closed between its last byte and now: then it is no use either.
      if (connection.isClosed) this.#forget(opening)
      return connection
    })
    this.#connection = opening
    return opening
  }

  #forget(opening: Promise<C>): void {
    if (this.#connection === opening) this.#connection = undefined
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#stop.abort(closedError())
    const connection = this.#connection
    this.#connection = undefined
    await connection?.then((c) => c.close(), () => undefined)
  }
}
