/**
 * The session: everything about one connection except the socket. Bytes come in through
 * receive(); exchanges run one at a time through run(); what they send goes out through the
 * `write` the I/O edge provides. Asynchronous messages (NotificationResponse, NoticeResponse,
 * ParameterStatus) may arrive at any moment, even in the middle of a query (protocol docs
 * 55.2.7), so they are taken out here and never reach an exchange.
 * Pure: imports the framer and the exchange vocabulary, never a socket.
 */
import type {
  BackendMessage,
  NoticeResponse,
  NotificationResponse,
  ParameterStatus,
  TransactionStatus,
} from './backend/messages.ts'
import { ConnectionLostError, DatabaseError, PgListenError, ProtocolViolationError } from './errors.ts'
import type { Exchange, Step } from './exchange/steps.ts'
import { Framer, type FramerOptions } from './framer.ts'

export interface SessionHandlers {
  onNotification?(message: NotificationResponse): void
  onNotice?(message: NoticeResponse): void
  onParameterStatus?(message: ParameterStatus): void
  /** A handler above threw; the session went on. Without this, such errors are dropped. */
  onHandlerError?(error: unknown): void
}

/**
 * Calls one of the caller's handlers as a method of `handlers`. What it throws, or an async
 * one rejects with, goes to onHandlerError: a handler's bug must not desynchronize the stream
 * nor escape as an uncaught exception, and an unheard rejection would end a Node process. A
 * returned value is taken for a promise only if its `then` is a function.
 */
export function callHandler<A>(handlers: SessionHandlers, handler: ((arg: A) => unknown) | undefined, arg: A): void {
  try {
    const result = handler?.call(handlers, arg) as Partial<PromiseLike<unknown>> | undefined
    // No closure unless there is a promise: this runs once per notification.
    if (typeof result?.then === 'function') result.then(undefined, (error) => handlerFailed(handlers, error))
  } catch (error) {
    handlerFailed(handlers, error)
  }
}

function handlerFailed(handlers: SessionHandlers, error: unknown): void {
  try {
    const result = handlers.onHandlerError?.(error) as Partial<PromiseLike<unknown>> | undefined
    // An async one that rejects too: nobody is left to tell, and unhandled it would end the process.
    if (typeof result?.then === 'function') result.then(undefined, () => undefined)
  } catch {
    // The error handler failed too; there is nobody left to tell.
  }
}

export interface SessionEdge {
  /** Sends bytes to the server. */
  write(bytes: Uint8Array): void
  /** The session cannot go on (protocol violation, desynchronized exchange): drop the link. */
  abort(error: Error): void
}

/**
 * Sees every message as it crosses the wire (pglisten --trace, in the spirit of libpq's
 * PQtrace): frontend messages as the bytes sent, backend messages decoded. It must redact
 * secrets itself; a tracer that throws is ignored. Each hook is optional: a tracer of what the
 * server says alone gives received() only (options/explicit.ts refuses one with none).
 */
export interface Tracer {
  sent?(bytes: Uint8Array): void
  received?(message: BackendMessage): void
  /**
   * The server's one-byte answer to an SSLRequest or GSSENCRequest ('S', 'N', 'G', or the 'E'
   * that starts an error left unread), which is no message: libpq traces it apart, with
   * pqTraceOutputCharResponse.
   */
  receivedByte?(response: 'SSLResponse' | 'GSSENCResponse', byte: number): void
}

/** Runs a tracer's hook: tracing must never change what happens on the wire, so a throw is ignored. */
export function traced(action: () => void): void {
  try {
    action()
  } catch {
    // A tracer that throws is ignored (Tracer's contract).
  }
}

export interface SessionOptions extends FramerOptions, SessionHandlers {
  trace?: Tracer
}

/**
 * For a COPY BOTH exchange (START_REPLICATION), the session itself routes the copy: told
 * synchronously, from the read loop, as CopyBothResponse, each CopyData and the server's
 * CopyDone are routed, rather than through a promise per message. So the copy is known open
 * before its first CopyData is handed on (a keepalive in the same read can be answered), and
 * CopyData out of place still reaches the exchange, which refuses it. A throw fails the
 * session. pause() holds all of it as it holds everything else.
 */
export interface CopyBothRoute {
  /** CopyBothResponse was routed: the client may send CopyData from now on. */
  onStarted?(): void
  onData(data: Uint8Array): void
  /** The server's CopyDone was routed: no CopyData follows. */
  onServerDone?(): void
}

export interface RunOptions {
  copyBoth?: CopyBothRoute
}

export class Session {
  /** The server's run-time parameters, as last reported by ParameterStatus. */
  readonly parameters = new Map<string, string>()
  /** From the last ReadyForQuery, whether the exchange that read it succeeded or not. */
  transactionStatus: TransactionStatus = 'I'
  readonly #framer: Framer
  readonly #edge: SessionEdge
  readonly #handlers: SessionHandlers
  readonly #trace: Tracer | undefined

  /** Messages for the running exchange, and its wait for the next one. */
  readonly #inbox: BackendMessage[] = []
  #waiting: { resolve(message: BackendMessage): void; reject(error: Error): void } | undefined
  /**
   * The wait for a step of an async exchange, which may await something that is not the stream
   * (startup's password function): fail() ends it, so neither a lost connection nor a stopped
   * attempt waits on that.
   */
  #stepping: ((error: Error) => void) | undefined
  /** fail() gave up a step of the running exchange that had not ended (a failed session runs no other). */
  #abandoned = false
  #running = false
  /** The tail of the queue of exchanges: each starts when the one before has settled. */
  #queue: Promise<unknown> = Promise.resolve()

  /** Set once: why the session ended. */
  #failure: Error | undefined
  /** pause() was called and resume() not yet. */
  #paused = false
  /** Paused or failed: route nothing more. One boolean, so the test after each message stays one load. */
  #halted = false
  /** A routing loop is running further up the stack (a handler called resume()): it goes on by itself. */
  #draining = false
  /** A FATAL ErrorResponse received while idle (e.g. 57P01 admin shutdown): the cause of the close that follows. */
  #farewell: DatabaseError | undefined
  /** While an exchange run with copyBoth runs: its route; and once CopyBothResponse came, the open copy's. */
  #copyRoute: CopyBothRoute | undefined
  #copyOpen: CopyBothRoute | undefined

  constructor(edge: SessionEdge, options: SessionOptions = {}) {
    this.#edge = edge
    this.#framer = new Framer(options)
    this.#handlers = options
    this.#trace = options.trace
  }

  get failure(): Error | undefined {
    return this.#failure
  }

  /** True from pause() until resume(). */
  get paused(): boolean {
    return this.#paused
  }

  /**
   * Bytes from the server, routed at once unless the session is paused. Never throws: a
   * broken stream ends the session instead. The chunk's memory may be reused once this returns.
   */
  receive(chunk: Uint8Array): void {
    if (this.#failure) return
    try {
      this.#framer.push(chunk)
      this.#drain()
    } catch (error) {
      this.#unreadable(error)
    }
  }

  /**
   * Routes nothing more until resume(), starting with the next message: called from a handler,
   * the rest of the chunk being routed waits too. A single read can hold thousands of
   * NotificationResponses, so pausing only the socket would still hand them all on. Messages
   * for a running exchange wait as well: its promise settles after resume().
   */
  pause(): void {
    this.#paused = true
    this.#halted = true
  }

  /**
   * Routes what waited, in order, before returning, unless a handler pauses again meanwhile.
   * Called from a handler, it only lifts the pause: the loop routing that handler's message
   * goes on with the next one, so no stack grows however often handlers pause and resume.
   */
  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    if (this.#failure) return // what waited is dropped with the session
    this.#halted = false
    try {
      this.#drain()
    } catch (error) {
      this.#unreadable(error)
    }
  }

  /** Routes buffered messages until there is no whole one left, or until a pause or a failure. */
  #drain(): void {
    const framer = this.#framer
    if (!this.#halted && !this.#draining) {
      this.#draining = true
      try {
        for (let message = framer.next(); message !== undefined; message = framer.next()) {
          this.#route(message)
          if (this.#halted) break
        }
      } finally {
        this.#draining = false
      }
    }
    // Stopped before the end of the chunk: the framer may be borrowing it, and the edge's next
    // read overwrites it (io/node-link.ts reuses one buffer), so the rest must be copied now.
    if (this.#paused && !this.#failure) framer.own()
  }

  #unreadable(error: unknown): void {
    this.fail(error instanceof PgListenError ? error : new ProtocolViolationError('cannot read the server stream', { cause: error }))
  }

  #route(message: BackendMessage): void {
    if (this.#trace) traced(() => this.#trace!.received?.(message))
    switch (message.type) {
      case 'CopyBothResponse':
        if (this.#copyRoute !== undefined && this.#copyOpen === undefined) {
          this.#copyOpen = this.#copyRoute
          this.#copying(() => this.#copyOpen?.onStarted?.())
        }
        break // the exchange sees it too
      case 'CopyData':
        if (this.#copyOpen === undefined) break // out of place: the exchange refuses it
        this.#copying(() => this.#copyOpen!.onData(message.data))
        return
      case 'CopyDone':
        if (this.#copyOpen !== undefined) {
          const route = this.#copyOpen
          this.#copyOpen = undefined
          this.#copying(() => route.onServerDone?.())
        }
        break
      case 'NotificationResponse':
        callHandler(this.#handlers, this.#handlers.onNotification, message)
        return
      case 'NoticeResponse':
        callHandler(this.#handlers, this.#handlers.onNotice, message)
        return
      case 'ParameterStatus':
        // Every byte is decoded as UTF-8, so a session in another encoding cannot be read.
        if (message.name === 'client_encoding' && message.value.toUpperCase() !== 'UTF8') {
          this.fail(new ProtocolViolationError(`the server switched client_encoding to ${message.value}; pglisten reads only UTF8`))
          return
        }
        this.parameters.set(message.name, message.value)
        callHandler(this.#handlers, this.#handlers.onParameterStatus, message)
        return
    }
    if (message.type === 'ErrorResponse' && isFatal(message.fields.severity ?? message.fields.severityLocalized)) {
      // The server is about to close the connection; this is the reason it will not give.
      this.#farewell = new DatabaseError(message.fields)
    }
    if (message.type === 'ReadyForQuery') this.transactionStatus = message.status
    if (this.#running) {
      const waiting = this.#waiting
      if (waiting) {
        this.#waiting = undefined
        waiting.resolve(message)
      } else this.#inbox.push(message)
      return
    }
    // Nothing was asked. The one legitimate case is a FATAL error before the server hangs up.
    if (message.type === 'ErrorResponse') {
      this.#farewell ??= new DatabaseError(message.fields)
      return
    }
    this.fail(new ProtocolViolationError(`unexpected ${message.type} while no request was pending`))
  }

  /** Runs a copy route's hook; a throw (bytes its reader cannot take) loses the stream. */
  #copying(hook: () => void): void {
    try {
      hook()
    } catch (error) {
      this.fail(error instanceof Error ? error : new PgListenError(String(error)))
    }
  }

  /** Sends bytes, traced: an exchange's, and those sent outside any exchange (Terminate, CopyData). */
  send(bytes: Uint8Array): void {
    if (this.#trace) traced(() => this.#trace!.sent?.(bytes))
    this.#edge.write(bytes)
  }

  /**
   * Runs an exchange after those already queued. The promise settles with its result or its
   * error. If it stops anywhere but just after ReadyForQuery (or a finished startup), the
   * stream is out of step, so the session fails.
   */
  run<T>(exchange: Exchange<T>, options: RunOptions = {}): Promise<T> {
    const result = this.#queue.then(() => this.#drive(exchange, options))
    this.#queue = result.catch(() => undefined)
    return result
  }

  async #drive<T>(exchange: Exchange<T>, options: RunOptions): Promise<T> {
    if (this.#failure) throw this.#failure
    this.#running = true
    this.#copyRoute = options.copyBoth
    // In step: nothing sent yet, or the last message read was ReadyForQuery.
    let inStep = true
    let input: BackendMessage | undefined
    try {
      for (;;) {
        // Failed in the read that brought `input` (a message after it in the same chunk): a step
        // now could await what nothing would end (a password function).
        if (this.#failure) throw this.#failure
        const step = await this.#step(exchange, input)
        if (step.done) return step.value
        if (this.#failure) throw this.#failure
        if (step.value.kind === 'send') {
          this.send(step.value.bytes)
          inStep = false
          input = undefined
        } else {
          input = await this.#nextMessage()
          inStep = input.type === 'ReadyForQuery'
        }
      }
    } catch (error) {
      if (!inStep) this.fail(error instanceof Error ? error : new PgListenError(String(error)))
      throw error
    } finally {
      this.#running = false
      this.#copyRoute = undefined
      this.#copyOpen = undefined
      this.#inbox.length = 0
      // An async exchange still in a step that fail() gave up would make return() wait for that
      // step, for good if it never ends: then it is told to return, and not waited for.
      const ended = exchange.return?.(undefined as T)
      if (this.#abandoned) void Promise.resolve(ended).catch(() => undefined)
      else await ended
    }
  }

  /** The exchange's next step: at once from a generator, or awaited, until fail(), from an async one. */
  #step<T>(exchange: Exchange<T>, input: BackendMessage | undefined): IteratorResult<Step, T> | Promise<IteratorResult<Step, T>> {
    const next = exchange.next(input)
    if (typeof (next as PromiseLike<unknown>).then !== 'function') return next as IteratorResult<Step, T>
    return new Promise((resolve, reject) => {
      this.#stepping = (error) => {
        this.#abandoned = true
        reject(error)
      }
      ;(next as PromiseLike<IteratorResult<Step, T>>).then(resolve, reject)
    }).finally(() => (this.#stepping = undefined)) as Promise<IteratorResult<Step, T>>
  }

  #nextMessage(): Promise<BackendMessage> {
    const queued = this.#inbox.shift()
    if (queued) return Promise.resolve(queued)
    if (this.#failure) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject }
    })
  }

  /**
   * Ends the session with `error`: the running exchange and every queued one reject with it.
   * The edge reports a closed socket with a ConnectionLostError; a FATAL message the server
   * sent before closing becomes its cause.
   */
  fail(error: Error): void {
    if (this.#failure) return
    if (this.#farewell && error instanceof ConnectionLostError && error.cause === undefined) {
      error = new ConnectionLostError(`${error.message}: ${this.#farewell.message}`, { cause: this.#farewell })
    }
    this.#failure = error
    this.#stepping?.(error)
    this.#halted = true
    const waiting = this.#waiting
    this.#waiting = undefined
    waiting?.reject(error)
    this.#edge.abort(error)
  }
}

function isFatal(severity: string | undefined): boolean {
  return severity === 'FATAL' || severity === 'PANIC'
}
