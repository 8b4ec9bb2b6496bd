/**
 * A slot's watch, on an ordinary connection of its own beside the replication one (which,
 * while it streams, takes no SQL): on a timer, an optional heartbeat message, so that WAL
 * written for a quiet database still moves the slot (Debezium's heartbeat action), and a look
 * at the slot's lag, reported past a threshold. A failing watch never stops the stream.
 * Imports the protocol's Connection type and the admin helpers.
 */
import type { ConnectOptions } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { emitMessage, slotHealth, type SlotHealth } from './admin.ts'
import { checkTimerDelay } from '../protocol/timer.ts'

/** The prefix of the heartbeat's messages; a stream with `messages` does not hand them on. */
export const heartbeatPrefix = 'pglisten.heartbeat'

export interface WatchOptions {
  /** Milliseconds between looks (and heartbeats). Default 60,000. */
  interval?: number
  /**
   * Emit a non-transactional, empty pg_logical_emit_message each time. Its WAL record is
   * decoded by the slot's walsender, which then reports a position past it, and with nothing
   * owed the stream confirms it: the slot moves even when nothing it publishes changes.
   */
  heartbeat?: boolean
  /** Call onLag when the slot is at least this many bytes of WAL behind. */
  lagBytes?: number
  onLag?(health: SlotHealth): void
  /** Told when a look fails (the connection is made again next time); default none. */
  onError?(error: Error): void
}

export class SlotWatch {
  readonly #timer: ReturnType<typeof setInterval>
  #connection: Promise<Connection> | undefined
  /** Ends a connection attempt still under way when the watch closes. */
  readonly #closing = new AbortController()
  #busy = false
  #closed = false

  constructor(
    readonly slot: string,
    readonly options: WatchOptions,
    readonly connect: (signal: AbortSignal) => Promise<Connection>,
  ) {
    const interval = options.interval ?? 60_000
    if (!(interval > 0) || !Number.isFinite(interval)) throw new RangeError(`watch.interval must be a positive number of milliseconds, not ${interval}`)
    checkTimerDelay('watch.interval', interval)
    if (options.lagBytes !== undefined && !(options.lagBytes >= 0)) throw new RangeError(`watch.lagBytes must be a number of bytes, not ${options.lagBytes}`)
    this.#timer = setInterval(() => void this.look(), interval)
    ;(this.#timer as { unref?(): void }).unref?.()
  }

  /** One heartbeat and look; a look still running makes this one a no-op. */
  async look(): Promise<void> {
    if (this.#busy || this.#closed) return
    this.#busy = true
    const { heartbeat, lagBytes, onLag, onError } = this.options
    let health: SlotHealth | undefined
    try {
      this.#connection ??= this.connect(this.#closing.signal)
      const sql = await this.#connection
      if (heartbeat) await emitMessage(sql, heartbeatPrefix, '', { transactional: false })
      if (lagBytes !== undefined) health = await slotHealth(sql, this.slot)
    } catch (error) {
      const lost = this.#connection
      this.#connection = undefined
      void lost?.then((c) => c.close()).catch(() => undefined)
      if (!this.#closed) report(onError, error instanceof Error ? error : new Error(String(error)))
    } finally {
      this.#busy = false
    }
    if (lagBytes !== undefined && health?.lagBytes != null && health.lagBytes >= lagBytes) report(onLag, health)
  }

  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    this.#closing.abort()
    const connection = this.#connection
    this.#connection = undefined
    await connection?.then((c) => c.close()).catch(() => undefined)
  }
}

/**
 * A reporting hook must not stop the watch or the stream, whatever it throws; nor whatever an
 * async hook's promise rejects with, which, left unheard, would end the process.
 */
export function report<T>(hook: ((value: T) => void) | undefined, value: T): void {
  try {
    const result = hook?.(value) as Partial<PromiseLike<unknown>> | undefined
    if (typeof result?.then === 'function') result.then(undefined, () => undefined)
  } catch {
    // ignored on purpose
  }
}

/** The watch's connection: the stream's options, without replication, so it takes SQL. */
export function watchConnection(connection: ConnectOptions): ConnectOptions {
  const { replication: _replication, ...rest } = connection
  return rest
}
