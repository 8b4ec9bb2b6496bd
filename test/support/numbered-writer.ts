/**
 * A writer of numbered notifications (payload "1", "2", ...) every few milliseconds, on a
 * connection of its own that it opens again whenever it is lost; and the check of what a
 * listener heard against it. A number whose query failed may or may not have been sent: only
 * those may go missing without a Gap.
 * Imports src/protocol (the writer's connection) and src/listener types.
 */
import type { Gap, ListenerItem } from '../../src/listener/subscription.ts'
import { connect, type ConnectOptions } from '../../src/protocol/index.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'

export interface NumberedWriter {
  /** From now on, write to this server instead (failover). */
  moveTo(options: ConnectOptions): void
  /** The highest number tried so far. */
  sentSoFar(): number
  /** The numbers whose NOTIFY was answered, in order. */
  succeeded(): readonly number[]
  /** The numbers whose query failed: sent or not, nobody knows. */
  failed(): ReadonlySet<number>
  /** When each number's query was sent (ms): one sent after a Gap's `to` must be heard. */
  sentAt(): ReadonlyMap<number, number>
  /** Stops writing; resolves with the last number that was answered. */
  stop(): Promise<number>
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export function numberedWriter(channel: string, options: ConnectOptions, every = 20): NumberedWriter {
  let target = { ...options, connectTimeout: 2 }
  let connection: Connection | undefined
  let tried = 0
  let stopped = false
  const succeeded: number[] = []
  const failed = new Set<number>()
  const sentAt = new Map<number, number>()
  const quoted = channel.replaceAll("'", "''")

  const run = (async () => {
    while (!stopped) {
      if (!connection) {
        connection = await connect(target).catch(() => undefined)
        if (!connection) {
          await sleep(50)
          continue
        }
      }
      const n = ++tried
      sentAt.set(n, Date.now())
      try {
        await connection.query(`SELECT pg_notify('${quoted}', '${n}')`)
        succeeded.push(n)
      } catch {
        failed.add(n)
        void connection.close().catch(() => {})
        connection = undefined
      }
      await sleep(every)
    }
    await connection?.close().catch(() => {})
  })()

  return {
    moveTo(next) {
      target = { ...next, connectTimeout: 2 }
      void connection?.close().catch(() => {})
      connection = undefined
    },
    sentSoFar: () => tried,
    succeeded: () => succeeded,
    failed: () => failed,
    sentAt: () => sentAt,
    async stop() {
      stopped = true
      await run
      return succeeded.at(-1) ?? 0
    },
  }
}

export interface Losses {
  /** Numbers missing where no Gap was: the promise broken. */
  unannounced: number[]
  /** Numbers heard twice. */
  duplicated: number[]
  /** Numbers heard after a higher one with no Gap between them. */
  reordered: number[]
  /** How many numbers went missing at a Gap (lost, and said so). */
  announced: number
}

/**
 * Walks what the listener yielded, in order. Between two notifications with no Gap between
 * them the numbers must follow on, except for ones whose query failed; across a Gap, numbers
 * may be missing, but only ones sent before the Gap's `to` (after it, the listener was
 * listening again). A number heard after a higher one is out of order, Gap or not.
 * Notifications on other channels are not this writer's and are skipped.
 */
export function unannouncedLosses(items: readonly ListenerItem[], failed: ReadonlySet<number>, sentAt: ReadonlyMap<number, number>): Losses {
  const out: Losses = { unannounced: [], duplicated: [], reordered: [], announced: 0 }
  const seen = new Set<number>()
  let last = 0
  let gap: Gap | undefined
  for (const item of items) {
    if (item.type === 'Gap') {
      gap = item
      continue
    }
    const n = Number(item.payload)
    if (!Number.isInteger(n)) continue
    if (seen.has(n)) out.duplicated.push(n)
    else if (n < last) out.reordered.push(n)
    else {
      for (let m = last + 1; m < n; m++) {
        if (failed.has(m)) continue
        if (gap && (sentAt.get(m) ?? Infinity) <= gap.to.getTime()) out.announced++
        else out.unannounced.push(m)
      }
      last = n
    }
    seen.add(n)
    gap = undefined
  }
  return out
}
