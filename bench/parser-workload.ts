/**
 * The parser benchmark's input: NotificationResponse messages built with Buffer here, so no
 * pglisten code makes the bytes it then decodes.
 */
import { Buffer } from 'node:buffer'

export const shapes = [0, 100, 1000].flatMap((payload) => [64 * 1024, 1024].map((chunk) => ({ payload, chunk })))

/**
 * About `mib` MiB of notifications on one channel, written straight into one Buffer (a million
 * small Buffers would leave the garbage collector work to do inside the timed passes).
 * Payloads differ (a counter in front), as real ones do, so no decoder can reuse a payload
 * string. `payloadBytes` is the checksum every decoder must reproduce: the sum of payload
 * lengths plus one per message.
 */
export function workload(payloadSize: number, mib: number): { wire: Buffer; count: number; payloadBytes: number } {
  const channel = Buffer.from('orders')
  const messageLength = 1 + 4 + 4 + channel.length + 1 + payloadSize + 1
  const count = Math.ceil((mib * 1024 * 1024) / messageLength)
  const wire = Buffer.alloc(count * messageLength)
  for (let i = 0, at = 0; i < count; i++, at += messageLength) {
    wire[at] = 0x41 // Byte1('A') NotificationResponse
    wire.writeInt32BE(messageLength - 1, at + 1) // Int32 length, counting itself
    wire.writeInt32BE(4242, at + 5) // Int32 process ID
    channel.copy(wire, at + 9) // String channel (NUL: Buffer.alloc zero-fills)
    if (payloadSize > 0) wire.write(`${i}:`.padEnd(payloadSize, 'x').slice(0, payloadSize), at + 9 + channel.length + 1, 'latin1')
  }
  return { wire, count, payloadBytes: count * (payloadSize + 1) }
}
