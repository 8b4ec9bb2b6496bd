/**
 * Decoder of NotificationResponse, the message this library exists for, and its hot path:
 * the channel name goes through the reader's interner (one channel is heard over and over),
 * and the payload's end is known from the length, not found by scanning.
 */
import type { BodyReader } from '../bytes/reader.ts'
import type { NotificationResponse } from './messages.ts'

/**
 * NotificationResponse (B)
 *   Byte1('A') Int32 length Int32 processId String channel String payload
 */
export function decodeNotificationResponse(r: BodyReader): NotificationResponse {
  const processId = r.int32('NotificationResponse process ID')
  const channel = r.internedCString('NotificationResponse channel')
  const payload = r.finalCString('NotificationResponse payload')
  return { type: 'NotificationResponse', processId, channel, payload }
}
