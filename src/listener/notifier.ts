/**
 * The notifier: a second connection for notify(), queueUsage() and query(), opened when first
 * needed and again after it is lost. A reply on the listening connection comes only after every
 * notification already queued for it, so under a flood these would otherwise wait for, and pull
 * into memory, the whole backlog.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { ListenerError } from './errors.ts'

export class Notifier {
  #connection: Promise<Connection> | undefined
  #closed = false

  constructor(private readonly open: () => Promise<Connection>) {}

  /** Its process ID once open: notifications sent through it carry it. */
  get processId(): Promise<number | undefined> {
    return this.#connection?.then((c) => c.processId, () => undefined) ?? Promise.resolve(undefined)
  }

  async run<T>(operation: (connection: Connection) => Promise<T>): Promise<T> {
    if (this.#closed) throw new ListenerError('the listener is closed')
    const opening = (this.#connection ??= this.open())
    const connection = await opening.catch((error: unknown) => {
      if (this.#connection === opening) this.#connection = undefined // the next call tries again
      throw error
    })
    try {
      return await operation(connection)
    } catch (error) {
      if (error instanceof ConnectionLostError && this.#connection === opening) this.#connection = undefined
      throw error
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    const connection = this.#connection
    this.#connection = undefined
    await connection?.then((c) => c.close(), () => undefined)
  }
}
