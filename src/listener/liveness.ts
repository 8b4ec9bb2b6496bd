/**
 * Finding a connection that died silently (a NAT dropped it, the peer vanished): an idle query
 * every `interval`; no answer within `timeout` and the connection is declared dead, so the
 * listener reconnects. With the defaults, detection takes at most about two intervals. TCP
 * keepalive (set by the listener) covers the time the socket is paused for backpressure, when
 * no answer could be read.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import type { Connection } from '../protocol/io/connection.ts'

export interface HeartbeatOptions {
  /** Milliseconds between heartbeats; default 15,000. */
  interval?: number
  /** Milliseconds to wait for the answer; default the interval. */
  timeout?: number
}

export interface LivenessHooks {
  /** The connection to check now, or undefined to skip this beat (none, or paused). */
  connection(): Connection | undefined
  /** The connection did not answer in time. */
  dead(connection: Connection, error: ConnectionLostError): void
}

export class Liveness {
  readonly #interval: number
  readonly #timeout: number
  readonly #enabled: boolean
  #timer: ReturnType<typeof setInterval> | undefined
  #beating = false

  constructor(options: HeartbeatOptions | false | undefined, private readonly hooks: LivenessHooks) {
    this.#enabled = options !== false
    this.#interval = (options ? options.interval : undefined) ?? 15_000
    this.#timeout = (options ? options.timeout : undefined) ?? this.#interval
    if (this.#enabled && (!(this.#interval > 0) || !(this.#timeout > 0))) {
      throw new RangeError(`heartbeat interval and timeout must be positive, not ${this.#interval} and ${this.#timeout}`)
    }
  }

  start(): void {
    if (!this.#enabled || this.#timer) return
    this.#timer = setInterval(() => void this.#beat(), this.#interval)
    this.#timer.unref() // a heartbeat never keeps the process alive
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  async #beat(): Promise<void> {
    const connection = this.hooks.connection()
    if (!connection || this.#beating) return
    this.#beating = true
    const timer = setTimeout(() => {
      this.hooks.dead(connection, new ConnectionLostError(`no answer to a heartbeat within ${this.#timeout} ms; the connection is presumed dead`))
    }, this.#timeout)
    timer.unref()
    try {
      // An empty query: the cheapest round trip there is (EmptyQueryResponse, ReadyForQuery).
      // It queues behind any other request, so a request stuck on a dead link is caught too.
      await connection.query('')
    } catch {
      // Lost or aborted: the listener hears of it through the connection's close.
    } finally {
      clearTimeout(timer)
      this.#beating = false
    }
  }
}
