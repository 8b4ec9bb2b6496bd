/**
 * The soak's writer: a steady rate of notifications over a few connections of pglisten's own
 * connect(), paced in small batches per tick, each connection reopened after the server
 * restarts. It counts what it knows was committed, what it knows was not, and what it cannot
 * know (a connection lost while a batch was on its way). Imports src/ and node: modules.
 *
 * A batch is one statement, so one transaction: `SELECT count(pg_notify(...)) FROM
 * generate_series(a, b)` sends b - a + 1 notifications with payloads "<writer>:<n>", each
 * writer (one per connection) counting up from 1 so the listener can check the sequence.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, DatabaseError, type Connection } from '../../src/index.ts'

export interface WriterOptions {
  address: { host: string; port: number; user: string; database: string }
  channel: string
  connections: number
  /** Notifications per second. */
  rate: number
  /** Milliseconds between ticks; each sends what is due (rate × tick / 1000 when on time). */
  tick: number
}

interface Slot {
  id: number
  connection: Connection | undefined
  busy: boolean
  /** The last sequence number handed out. */
  seq: number
}

export interface WriterCounters {
  committed: number
  /** Rolled back for sure (an ErrorResponse): their numbers are handed out again. */
  rolledBack: number
  /** The connection was lost with the batch on its way: committed or not, nobody can say. */
  inDoubt: number
  /** Never sent: while every connection was down, more than 2 s of load fell due; the excess is dropped. */
  skipped: number
  batches: number
  reconnects: number
  /** The longest time, in ms, that no batch could be sent while one was due. */
  longestStallMs: number
}

/** What a tick sends at most on one connection, when it catches up after a restart. */
const maxBatch = 500

export class Writer {
  readonly counters: WriterCounters = { committed: 0, rolledBack: 0, inDoubt: 0, skipped: 0, batches: 0, reconnects: 0, longestStallMs: 0 }
  readonly #options: WriterOptions
  readonly #slots: Slot[]
  #issued = 0
  #next = 0
  #started = 0
  #stopped = false
  #blockedSince: number | undefined
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(options: WriterOptions) {
    this.#options = options
    this.#slots = Array.from({ length: options.connections }, (_, i) => ({ id: i + 1, connection: undefined, busy: false, seq: 0 }))
  }

  async start(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => this.#open(slot, false)))
    this.#started = performance.now()
    this.#timer = setInterval(() => this.#tick(), this.#options.tick)
  }

  get serverVersion(): string {
    return this.#slots.find((s) => s.connection)?.connection?.parameters.get('server_version') ?? 'unknown'
  }

  /** Stops sending, waits for the batches on their way, closes the connections; returns the seconds it sent for. */
  async stop(): Promise<number> {
    this.#stopped = true
    clearInterval(this.#timer)
    const seconds = (performance.now() - this.#started) / 1000
    while (this.#slots.some((s) => s.busy)) await sleep(10)
    await Promise.all(this.#slots.map((s) => s.connection?.close()))
    return seconds
  }

  #tick(): void {
    const now = performance.now()
    let due = Math.floor((this.#options.rate * (now - this.#started)) / 1000) - this.#issued
    const cap = 2 * this.#options.rate
    if (due > cap) {
      this.counters.skipped += due - cap
      this.#issued += due - cap
      due = cap
    }
    const slots = this.#slots
    for (let i = 0; i < slots.length && due > 0; i++) {
      const slot = slots[(this.#next + i) % slots.length]!
      if (!slot.connection || slot.busy) continue
      const n = Math.min(due, maxBatch)
      due -= n
      this.#issued += n
      this.#next = (this.#next + i + 1) % slots.length
      void this.#send(slot, slot.connection, n)
    }
    // Due but not sent: every connection busy or down. How long that lasts says how the restarts looked to a writer.
    if (due > 0) this.#blockedSince ??= now
    else if (this.#blockedSince !== undefined) {
      this.counters.longestStallMs = Math.max(this.counters.longestStallMs, Math.round(now - this.#blockedSince))
      this.#blockedSince = undefined
    }
  }

  async #send(slot: Slot, connection: Connection, n: number): Promise<void> {
    slot.busy = true
    const from = slot.seq + 1
    slot.seq += n
    const sql = `SELECT count(pg_notify('${this.#options.channel}', '${slot.id}:' || g)) FROM generate_series(${from}, ${slot.seq}) AS g`
    try {
      await connection.query(sql)
      this.counters.committed += n
      this.counters.batches++
    } catch (error) {
      if (error instanceof DatabaseError) {
        // The server refused or aborted it (57P01 at a fast shutdown): rolled back, numbers free again.
        this.counters.rolledBack += n
        slot.seq = from - 1
      } else this.counters.inDoubt += n
    } finally {
      slot.busy = false
    }
  }

  /** Connects the slot, retrying every 200 ms while the server is down; reopened whenever it closes. */
  async #open(slot: Slot, again: boolean): Promise<void> {
    const { address } = this.#options
    while (!this.#stopped) {
      try {
        let opened: Connection | undefined
        opened = await connect({ ...address, sslmode: 'disable', connectTimeout: 5, onClose: () => opened && this.#lost(slot, opened) })
        slot.connection = opened
        if (again) this.counters.reconnects++
        return
      } catch (error) {
        if (!again) throw error // the first connection must work
        await sleep(200)
      }
    }
  }

  #lost(slot: Slot, connection: Connection): void {
    if (slot.connection !== connection) return
    slot.connection = undefined
    if (!this.#stopped) void this.#open(slot, true)
  }
}
