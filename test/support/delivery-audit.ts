/**
 * The listener's promise, "nothing is lost without a Gap that says so", as a check over what a
 * test sent and what one consumer read. Pure: it only compares records, so a model-based test
 * can call it after every step and again at the end.
 */
import type { Gap, ListenerItem, Notification } from '../../src/listener/subscription.ts'

/** One notification the test sent, alone in its transaction; its payload is `seq`. */
export interface Sent {
  seq: number
  channel: string
  /** Date.now() just before the NOTIFY was sent, and just after its answer came back (Infinity till then): it committed in between. */
  sentAt: number
  repliedAt: number
  /** Answered, sent after listen() on its channel resolved, and answered before unlisten() was called. */
  expected: boolean
}

/** What one consumer (an iterator) took and read. */
export interface ConsumerRecord {
  name: string
  /** The channels it takes; undefined: all. */
  channels: ReadonlySet<string> | undefined
  /** The last sequence number whose sending began before it was made: it should hear every later one. */
  madeAfter: number
  /**
   * On the channels it takes that no consumer took when it was made, what it is owed more: every
   * notification after this sequence number (0: since listen()), held for it.
   */
  owedFrom: ReadonlyMap<string, number>
  /** It stopped (return(), or its handlers removed): what it did not read by then is not owed. */
  stopped: boolean
  items: ListenerItem[]
}

/** A lost connection, as the listener's events reported it. */
export interface Outage {
  /** The 'disconnected' event's time. */
  at: Date
  /** The Gap the 'reconnected' event carried for it. */
  gap: Gap
}

export type Phase =
  /** Mid-run: a notification with nothing read after it may still be on its way. */
  | 'running'
  /** The last notification on each channel was read by everyone: nothing is on its way. */
  | 'quiesced'
  /** close() came at an arbitrary moment: what was queued was dropped, by design. */
  | 'closed'
  /** The listener gave up: everything answered before `confirmedAt` (its millisecond excluded) must have been read or gapped. */
  | 'gave up'

/** Date rounds to the millisecond; the test's Date.now() and the listener's new Date() may straddle one. */
const SLACK_MS = 2

/** Whether `gap` says that `sent` may have been lost: it committed between the gap's ends. */
export function covers(gap: Gap, sent: Sent): boolean {
  return gap.from.getTime() <= sent.repliedAt + SLACK_MS && gap.to.getTime() >= sent.sentAt - SLACK_MS
}

/**
 * Every violation of the promise in `consumer`'s record, as sentences (empty: none):
 * 1. what it read came in send order, each at most once, only on its channels;
 * 2. what it should have heard (expected, on its channels, sent after it was made or, on a
 *    channel nobody consumed then, since it was last consumed) was read, or a Gap read between its neighbours covers it;
 * 3. before a reconnect's Gap it read nothing sent after that connection was lost.
 * `sent` is everything sent, in send order; `confirmedAt` matters only once the listener gave up.
 */
export function audit(consumer: ConsumerRecord, sent: readonly Sent[], outages: readonly Outage[], phase: Phase, confirmedAt = -Infinity): string[] {
  const problems: string[] = []
  const who = consumer.name
  const takes = (channel: string) => consumer.channels === undefined || consumer.channels.has(channel)
  const bySeq = new Map(sent.map((s) => [s.seq, s]))

  // 1. Order, duplicates, channels. `read` pairs each notification with its place among the items.
  const read: { sent: Sent; at: number }[] = []
  consumer.items.forEach((item, at) => {
    if (item.type === 'Gap') {
      if (item.from.getTime() > item.to.getTime()) problems.push(`${who}: a ${span(item)} ends before it starts`)
      return
    }
    const record = bySeq.get(Number((item as Notification).payload))
    if (!record || record.channel !== item.channel) return void problems.push(`${who}: read ${JSON.stringify(item.payload)} on ${item.channel}, which the test never sent`)
    if (!takes(record.channel)) problems.push(`${who}: read #${record.seq} on ${record.channel}, a channel it does not take`)
    const previous = read.at(-1)
    if (previous && previous.sent.seq >= record.seq) {
      problems.push(`${who}: read #${record.seq} after #${previous.sent.seq} (${previous.sent.seq === record.seq ? 'twice' : 'out of send order'})`)
      return
    }
    read.push({ sent: record, at })
  })

  // 2. Nothing expected is missing without a Gap between its neighbours that covers it.
  let next = 0 // read[next] is the first read after the notification considered (read is in seq order)
  for (const record of sent) {
    while (next < read.length && read[next]!.sent.seq <= record.seq) next++
    if (!record.expected || !takes(record.channel)) continue
    if (record.seq <= (consumer.owedFrom.get(record.channel) ?? consumer.madeAfter)) continue
    const before = read[next - 1]
    if (before?.sent.seq === record.seq) continue // read
    const after = read[next]
    const gaps = consumer.items.slice(before ? before.at + 1 : 0, after ? after.at : undefined).filter((item): item is Gap => item.type === 'Gap')
    if (gaps.some((gap) => covers(gap, record))) continue
    if (!after) {
      // Nothing read after it: it may be on its way, or dropped by design (a stop or a close).
      if (consumer.stopped || phase === 'running' || phase === 'closed') continue
      // Owed once the listener gave up: what committed before a request that was answered was
      // sent. Both times are the test's milliseconds: one answered in the same millisecond as
      // the request was sent may have committed after it (a model run found one, lost with the
      // backend an instant later).
      if (phase === 'gave up' && record.repliedAt >= confirmedAt) continue
    }
    const where = `between ${before ? `#${before.sent.seq}` : 'the start'} and ${after ? `#${after.sent.seq}` : 'the end'}`
    const seen = gaps.length ? `the Gaps there (${gaps.map(span).join(', ')}) do not cover it` : 'no Gap there'
    problems.push(`${who}: #${record.seq} on ${record.channel} (sent ${iso(record.sentAt)}, answered ${iso(record.repliedAt)}) is missing ${where}, and ${seen}`)
  }

  // 3. A reconnect's Gap comes before anything heard on the new connection.
  consumer.items.forEach((item, at) => {
    if (item.type !== 'Gap') return
    const outage = outages.find((o) => o.gap === item)
    if (!outage) return // a cut-off consumer's own Gap
    for (const r of read) {
      if (r.at < at && r.sent.sentAt > outage.at.getTime()) {
        problems.push(`${who}: read #${r.sent.seq} (sent ${iso(r.sent.sentAt)}) before the ${span(item)}, though it was sent after the connection was lost at ${iso(outage.at)}`)
      }
    }
  })
  return problems
}

export function iso(t: Date | number): string {
  return new Date(t).toISOString().slice(11, 23)
}

export function span(gap: Gap): string {
  return `Gap ${iso(gap.from)}–${iso(gap.to)}${gap.cause ? ` (${gap.cause.name})` : ''}`
}
