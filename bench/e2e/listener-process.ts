/**
 * The runner's side of one listener process: start it, read its lines ("ready", "warm", "a",
 * then the JSON report) in order, and stop it if it overruns its time. The same for the Node
 * child and the C listener. Imports node: modules only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { ListenerReport } from './workloads.ts'

export class ListenerProcess {
  readonly #child: ChildProcess
  readonly #lines: string[] = []
  #waiting: { resolve(line: string): void; reject(error: Error): void } | undefined
  #ended: Error | undefined
  #stderr = ''
  readonly #timer: ReturnType<typeof setTimeout>

  constructor(command: string, args: string[], timeoutMs: number) {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.#stderr = (this.#stderr + text).slice(-2000)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const waiting = this.#waiting
      if (waiting) (this.#waiting = undefined), waiting.resolve(line)
      else this.#lines.push(line)
    })
    // Out of time: SIGTERM asks the listener to report how far it got; SIGKILL if it cannot.
    this.#timer = setTimeout(() => {
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 3000).unref()
    }, timeoutMs)
    child.on('error', (error) => this.#end(error))
    // 'close', not 'exit': stdout has then been read to its end.
    child.on('close', (code, signal) => this.#end(new Error(`the listener process ended (${signal ?? `exit code ${code}`})${this.#stderr ? `: ${this.#stderr.trim()}` : ''}`)))
  }

  #end(error: Error): void {
    clearTimeout(this.#timer)
    this.#ended ??= error
    const waiting = this.#waiting
    this.#waiting = undefined
    waiting?.reject(this.#ended)
  }

  /** The next line the process prints; rejects if it ends first. */
  next(): Promise<string> {
    const line = this.#lines.shift()
    if (line !== undefined) return Promise.resolve(line)
    if (this.#ended) return Promise.reject(this.#ended)
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }))
  }

  /** Reads the next line and insists it is `word`; a JSON line instead is a report of failure. */
  async expect(word: string): Promise<void> {
    const line = await this.next()
    if (line === word) return
    if (line.startsWith('{')) throw new Error(`the listener stopped early: ${line.slice(0, 300)}`)
    throw new Error(`expected "${word}" from the listener, got ${JSON.stringify(line.slice(0, 200))}`)
  }

  async report(): Promise<ListenerReport> {
    const line = await this.next()
    try {
      return JSON.parse(line) as ListenerReport
    } catch {
      throw new Error(`expected the listener's JSON report, got ${JSON.stringify(line.slice(0, 200))}`)
    }
  }

  /**
   * Lets the process exit on its own (node --cpu-prof writes its profile on the way out) for
   * up to `graceMs`, then kills it.
   */
  async stop(graceMs: number): Promise<void> {
    clearTimeout(this.#timer)
    const child = this.#child
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
}
