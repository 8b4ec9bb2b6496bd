/**
 * The bench's side of a listener process: forks `pglisten bench-listener` (this same command,
 * run by the same Node with the same flags, so a TypeScript loader carries over), and turns its
 * messages into promises. Imports node:child_process and the bench's message types.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { FromListener, InitMessage, ToListener } from './messages.ts'

type Reply<K extends FromListener['type']> = Extract<FromListener, { type: K }>

/** This command's entry point, beside this folder: main.js when built, main.ts from source. */
const entry = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../main.ts' : '../main.js', import.meta.url))

export class BenchError extends Error {
  override name = 'BenchError'
}

export class ListenerProcess {
  /** Notifications received in the current phase, as last reported (for the progress line). */
  received = 0
  readonly #child: ChildProcess
  readonly #label: string
  #waiting: { type: FromListener['type']; resolve(message: FromListener): void; reject(error: Error): void } | undefined
  #failure: Error | undefined
  #stopped = false
  readonly #inbox: FromListener[] = []

  /** Starts a listener process; resolves once it listens on the channel. */
  static async start(index: number, init: InitMessage): Promise<ListenerProcess> {
    const child = fork(entry, ['bench-listener'], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const listener = new ListenerProcess(child, `listener ${index + 1}`)
    await listener.#ask(init, 'ready', 60_000)
    return listener
  }

  private constructor(child: ChildProcess, label: string) {
    this.#child = child
    this.#label = label
    child.on('message', (message: FromListener) => this.#receive(message))
    child.on('error', (error) => this.#fail(new BenchError(`${label}: ${error.message}`, { cause: error })))
    child.on('exit', (code, signal) => this.#fail(new BenchError(`${label} exited (${signal ?? `status ${code}`}) before the bench ended`)))
  }

  /** Begins a phase: the process resets its counters and CPU reading, then says so. */
  async start(phase: number): Promise<void> {
    this.received = 0
    await this.#ask({ type: 'start', phase }, 'started', 30_000)
  }

  /** Waits for the phase's report, which comes once the process has read the end marker. */
  done(timeoutMs: number): Promise<Reply<'done'>> {
    return this.#ask(undefined, 'done', timeoutMs)
  }

  /** Ends the process: it closes its listener when the IPC channel goes. */
  stop(): void {
    this.#stopped = true
    if (this.#child.connected) this.#child.disconnect()
  }

  /**
   * Sends `message` (if any) and waits for a reply of type `reply`. A reply may come before
   * anyone waits for it (a listener can read the end marker before the NOTIFY that sent it has
   * returned to the notifier), so replies nobody awaited wait in the inbox.
   */
  #ask<K extends FromListener['type']>(message: ToListener | undefined, reply: K, timeoutMs: number): Promise<Reply<K>> {
    if (this.#failure) return Promise.reject(this.#failure)
    if (message) this.#child.send(message)
    const early = this.#inbox.findIndex((m) => m.type === reply)
    if (early !== -1) return Promise.resolve(this.#inbox.splice(early, 1)[0] as Reply<K>)
    return new Promise<Reply<K>>((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(new BenchError(`${this.#label} sent no "${reply}" within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs)
      const settle = <T>(then: (value: T) => void) => (value: T) => {
        clearTimeout(timer)
        then(value)
      }
      this.#waiting = { type: reply, resolve: settle(resolve as (message: FromListener) => void), reject: settle(reject) }
    })
  }

  #receive(message: FromListener): void {
    if (message.type === 'progress') this.received = message.received
    else if (message.type === 'failed') this.#fail(new BenchError(`${this.#label}: ${message.message}`))
    else if (this.#waiting?.type === message.type) {
      const waiting = this.#waiting
      this.#waiting = undefined
      waiting.resolve(message)
    } else this.#inbox.push(message)
  }

  #fail(error: Error): void {
    if (this.#failure || this.#stopped) return
    this.#failure = error
    this.#child.kill()
    const waiting = this.#waiting
    this.#waiting = undefined
    waiting?.reject(error)
  }
}
