/**
 * What `pglisten listen` prints: one JSON object per line on stdout (JSON Lines), and the
 * status lines on stderr. Pure: imports the listener's item types and its stall error, the
 * command's error wording and its escaping of what a terminal would act on.
 *
 *   {"channel":"jobs","payload":"42","pid":4711,"received_at":"2026-01-02T03:04:05.678Z"}
 *   {"gap":{"from":"2026-01-02T03:04:05.678Z","to":"2026-01-02T03:04:06.012Z","cause":"..."}}   (with --gaps)
 */
import { ConsumerStalledError } from '../listener/errors.ts'
import type { Gap, Notification } from '../listener/subscription.ts'
import { describeError } from './errors.ts'
import { terminalSafe } from './terminal.ts'

/**
 * A notification as one line. With `jsonPayload`, `payload` is the value the payload holds,
 * written as the payload wrote it rather than parsed and printed again, so that nothing is
 * changed on the way: 12345678901234567890 stays exact, 1.0 stays 1.0. Only line breaks go
 * (JSON allows them only between tokens, so as spaces they mean the same). A payload that
 * holds no JSON (an empty one included) is printed all the same, as its text, with
 * `payload_error` saying why: a consumer that must not lose events never loses one here.
 */
export function notificationLine(notification: Notification, receivedAt: Date, jsonPayload: boolean): string {
  let payload = JSON.stringify(notification.payload)
  let error = ''
  if (jsonPayload) {
    try {
      JSON.parse(notification.payload)
      payload = notification.payload.replace(/[\r\n]+/g, ' ').trim()
    } catch (cause) {
      error = `,"payload_error":${JSON.stringify(`not JSON: ${(cause as Error).message}`)}`
    }
  }
  // Keys in a fixed order, so that lines diff and grep predictably.
  return `${terminalSafe(`{"channel":${JSON.stringify(notification.channel)},"payload":${payload}${error},"pid":${notification.processId},"received_at":"${receivedAt.toISOString()}"}`)}\n`
}

/**
 * A gap as a line of stdout (--gaps): a consumer of the lines can re-read its state there.
 * `cause` is why, as the status line on stderr said it (null if the connection ended without
 * an error), so that a consumer can tell a lost connection from its own slowness.
 */
export function gapLine(gap: Gap): string {
  const cause = gap.cause === undefined ? null : describeError(gap.cause)
  return `${terminalSafe(JSON.stringify({ gap: { from: gap.from.toISOString(), to: gap.to.toISOString(), cause } }))}\n`
}

/**
 * A gap as a status line: the connection was lost and is back, listening on every channel
 * again; or standard output was not read for so long that the listener stopped waiting for it.
 */
export function gapStatus(gap: Gap, processId: number | undefined): string {
  const between = `notifications between ${gap.from.toISOString()} and ${gap.to.toISOString()}`
  if (gap.cause instanceof ConsumerStalledError) return `${between} may have been lost: ${describeError(gap.cause)}`
  const pid = processId === undefined ? '' : ` (backend pid ${processId})`
  return `reconnected${pid}: ${between} may have been lost`
}

/** Channel names as the user can type them again: JSON-quoted, which is also how they are printed. */
export function channelList(channels: readonly string[]): string {
  return terminalSafe(channels.map((channel) => JSON.stringify(channel)).join(', '))
}
