/**
 * Finding a connection that died silently (a NAT dropped it, the peer vanished): a Sync
 * every `interval`. A connection is declared dead only when, for `timeout` ms in a row, it was
 * being read and not one byte arrived while a heartbeat waited for its answer. A connection
 * delivering bytes is alive, however long the heartbeat's answer takes behind a backlog
 * (PostgreSQL sends it only after every notification queued before it); while backpressure
 * holds the socket nothing can arrive, so nothing is judged. Nor is anything else seen then:
 * a paused socket reads neither the server's close nor keepalive's verdict, so an end in
 * that time is found when reading resumes (stallTimeout bounds the wait; README, keepAlive).
 * Each answer also tells the listener when the last confirmed request was sent (Gap.from).
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { checkTimerDelay } from '../protocol/timer.ts'

export interface HeartbeatOptions {
  /** Milliseconds between heartbeats; default 15,000. */
  interval?: number
  /** Milliseconds of silence, while a heartbeat waits and the socket is read, that mean death; default the interval. */
  timeout?: number
}

/** What liveness needs of a connection: to query it, and to see whether bytes arrive. */
export type LiveConnection = Pick<Connection, 'sync' | 'bytesReceived'>

export interface LivenessHooks<C extends LiveConnection = Connection> {
  /** The connection to check now, or undefined to skip this beat. */
  connection(): C | undefined
  /** False while backpressure holds the socket: no answer could be read. */
  reading(): boolean
  /** The heartbeat sent at `sentAt` was answered on `connection`. */
  answered(connection: C, sentAt: Date): void
  /**
   * Bytes came from `connection` since the last look (a beat, or a check of a beat's silence):
   * it is alive, its heartbeat's answer perhaps still behind a backlog. Seen at those looks,
   * never per message, so the hot path pays nothing for it.
   */
  heard?(connection: C): void
  /** The connection stayed silent while being read for `timeout` ms. */
  dead(connection: C, error: ConnectionLostError): void
}

export class Liveness<C extends LiveConnection = Connection> {
  readonly interval: number
  readonly timeout: number
  readonly #enabled: boolean
  #timer: ReturnType<typeof setInterval> | undefined
  #beating = false
  /** Counts resumes of the socket, so a silence is measured only over time spent reading. */
  #resumes = 0
  /** The connection last looked at, and how many bytes it had received then. */
  #seen: { connection: C; bytes: number } | undefined

  constructor(options: HeartbeatOptions | false | undefined, private readonly hooks: LivenessHooks<C>) {
    this.#enabled = options !== false
    this.interval = (options ? options.interval : undefined) ?? 15_000
    this.timeout = (options ? options.timeout : undefined) ?? this.interval
    if (this.#enabled) {
      if (!(this.interval > 0) || !(this.timeout > 0)) {
        throw new RangeError(`heartbeat interval and timeout must be positive, not ${this.interval} and ${this.timeout}`)
      }
      checkTimerDelay('the heartbeat interval', this.interval)
      checkTimerDelay('the heartbeat timeout', this.timeout)
    }
  }

  start(): void {
    if (!this.#enabled || this.#timer) return
    this.#timer = setInterval(() => void this.beat(), this.interval)
    this.#timer.unref?.() // a heartbeat never keeps the process alive
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** The socket is read again after a pause: silence counts from now. */
  resumed(): void {
    this.#resumes++
  }

  /** One heartbeat (the interval timer calls it; tests may too). */
  async beat(): Promise<void> {
    const connection = this.hooks.connection()
    if (!connection) return
    this.#look(connection)
    if (this.#beating || !this.hooks.reading()) return
    this.#beating = true
    const sentAt = new Date()
    let bytes = connection.bytesReceived
    let resumes = this.#resumes
    let check: ReturnType<typeof setTimeout> | undefined
    let verdict: (() => void) | undefined
    /** Judges the silence `timeout` ms from now. */
    const armCheck = () => {
      check = setTimeout(due, this.timeout)
      check.unref?.()
    }
    // A timer may fire late, after the event loop was blocked (a long task, a paused VM), and
    // before the socket's waiting bytes are read: judge after this turn's reads (setImmediate
    // runs after the poll phase), never on a silence that only the loop made.
    // Not unref'd: an unref'd immediate does not keep the poll phase from blocking, so in a
    // process with nothing else to do the verdict would wait for the next timer (a heartbeat
    // interval later). It lasts one turn; it keeps nothing alive.
    const due = () => {
      verdict = afterReads(judge)
    }
    const judge = () => {
      this.#look(connection)
      const now = connection.bytesReceived
      if (now !== bytes || resumes !== this.#resumes || !this.hooks.reading()) {
        // Bytes came, or the socket was not read all along: alive, or not judgeable. Look again later.
        bytes = now
        resumes = this.#resumes
        armCheck()
        return
      }
      this.hooks.dead(connection, new ConnectionLostError(`no byte arrived for ${this.timeout} ms while a heartbeat waited for its answer; the connection is presumed dead`))
    }
    armCheck()
    try {
      // A Sync alone: a round trip that runs nothing, so pg_stat_activity.query still shows the
      // session's last LISTEN (an empty Query would blank it), and is the cheapest there is.
      await connection.sync()
      this.hooks.answered(connection, sentAt)
    } catch {
      // Lost or aborted: the listener hears of it through the connection's close.
    } finally {
      clearTimeout(check)
      verdict?.()
      this.#beating = false
    }
  }

  /** Tells `heard` if bytes came from `connection` since it was last looked at. */
  #look(connection: C): void {
    const bytes = connection.bytesReceived
    if (this.#seen?.connection === connection && this.#seen.bytes !== bytes) this.hooks.heard?.(connection)
    this.#seen = { connection, bytes }
  }
}

/**
 * Runs `task` after the reads already waiting, and returns how to cancel it: setImmediate where
 * there is one (Node, Bun, Deno: after the poll phase), else a zero-delay timer (Cloudflare
 * Workers, which have no setImmediate): a later macrotask, so stream reads already delivered
 * to the event loop come first.
 */
function afterReads(task: () => void): () => void {
  const { setImmediate: immediate, clearImmediate: clear } = globalThis as { setImmediate?: typeof setImmediate; clearImmediate?: typeof clearImmediate }
  if (immediate && clear) {
    const handle = immediate(task)
    return () => clear(handle)
  }
  const timer = setTimeout(task, 0)
  return () => clearTimeout(timer)
}
