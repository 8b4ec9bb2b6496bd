/**
 * The client's half of wal_receiver_timeout, for one copy: a standby status update on a timer,
 * which asks the server for a reply after an interval of silence, and the verdict that a
 * server silent for `giveUpAfter` ms, though asked, is gone. A walsender that hears from us in
 * time never needs to send a keepalive, so silence alone is no sign of trouble.
 * Imports the protocol's errors only; the stream hands in the connection and the status update.
 */
import { ConnectionLostError } from '../protocol/errors.ts'

/** What the timer needs of the stream. */
export interface CopyLivenessHooks {
  /** Sends a standby status update, asking for a reply when `replyRequested`. */
  sendStatus(replyRequested: boolean): void
  /** Reading is paused by the stream (its read-ahead is full): the silence is ours. */
  paused(): boolean
  /**
   * The server is taken for gone: end the connection with this error. `silentFor`: how long
   * since it was last heard from (ms, by performance.now(), which no step of the wall clock
   * moves); until then, at least, the connection worked.
   */
  gone(error: ConnectionLostError, silentFor: number): void
}

/** The status interval, within a third of wal_sender_timeout (0 turns that timeout off). */
export function statusInterval(walSenderTimeout: number, wanted: number): number {
  return walSenderTimeout > 0 ? Math.max(1, Math.min(wanted, Math.floor(walSenderTimeout / 3))) : wanted
}

/**
 * How long a server may stay silent, though asked for a reply, unless `receiveTimeout` says:
 * a walsender replaying a large transaction that publishes nothing reads our messages only
 * every wal_sender_timeout / 2 (WalSndUpdateProgress), so its answer may take that long, plus
 * the interval by which our last update was newer than what we heard last. With the timeout
 * off, 60 s, as wal_receiver_timeout's default.
 */
export function silenceAllowed(walSenderTimeout: number, interval: number, receiveTimeout: number | undefined): number {
  return receiveTimeout ?? (walSenderTimeout > 0 ? walSenderTimeout + interval : 60_000)
}

export class CopyLiveness {
  /** When the server last sent anything on the copy (ms since the epoch). */
  #lastHeard = Date.now()
  /** The same moment by performance.now(): how long ago it was, for the backoff, whatever the wall clock did since. */
  #lastHeardAt = performance.now()
  /** When a status update asked the server for a reply that has not come yet; undefined: none pending. */
  #askedAt: number | undefined
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(
    private readonly interval: number,
    private readonly giveUpAfter: number,
    private readonly hooks: CopyLivenessHooks,
  ) {}

  /** The server sent something, or the silence so far does not count (reading resumed, the copy began). */
  heard(): void {
    this.#lastHeard = Date.now()
    this.#lastHeardAt = performance.now()
    this.#askedAt = undefined
  }

  start(): void {
    this.heard()
    this.#timer = setInterval(() => this.tick(), this.interval)
    ;(this.#timer as { unref?(): void }).unref?.()
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }

  /**
   * One status update: after one interval of silence it asks for a reply
   * (ProcessStandbyReplyMessage answers one with a keepalive as soon as it reads it), and a
   * server still silent `giveUpAfter` ms since it was last heard is taken for gone. The
   * verdict waits one turn of the event loop: after a long synchronous stretch of the
   * application's, timers run before the socket is read, and the answer may be there unread.
   * While reading is paused the silence is ours, and does not count.
   */
  tick(): void {
    const now = Date.now()
    if (this.hooks.paused()) this.heard()
    const asked = this.#askedAt
    if (asked !== undefined && now - this.#lastHeard >= this.giveUpAfter && now - asked >= this.interval) {
      setTimeout(() => {
        if (this.#askedAt !== asked) return
        this.hooks.gone(new ConnectionLostError(`no word from the server in ${Date.now() - this.#lastHeard} ms, though asked for one`), performance.now() - this.#lastHeardAt)
      }, 0)
      return
    }
    const askNow = asked === undefined && now - this.#lastHeard >= this.interval
    if (askNow) this.#askedAt = now
    this.hooks.sendStatus(askNow || asked !== undefined)
  }
}
