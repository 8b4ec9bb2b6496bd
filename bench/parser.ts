/**
 * Parser benchmark: decodes NotificationResponse messages from one large buffer fed in 64 KiB
 * and 1 KiB chunks, for payloads of 0, 100 and 1000 bytes, with pglisten's Framer and with
 * node-postgres's pg-protocol Parser, on the same bytes, in the same process, interleaved.
 *
 *   npm run bench:parser [-- --rounds 7 --mib 32 --json]
 *
 * Reports messages/s and MB/s (the median of the rounds) and the ratio to pg-protocol.
 * pg-protocol is a dev dependency of this benchmark only.
 */
import { Buffer } from 'node:buffer'
import os from 'node:os'
import { parseArgs } from 'node:util'
import { Parser } from 'pg-protocol/dist/parser.js'
import { Framer } from '../src/protocol/framer.ts'
import { decodeUtf8Fast } from '../src/protocol/io/node-utf8.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    mib: { type: 'string', default: '32' },
    json: { type: 'boolean', default: false },
  },
})
const rounds = Number(args.rounds)
const targetBytes = Number(args.mib) * 1024 * 1024

/** One NotificationResponse, built here with Buffer so no pglisten code makes the input. */
function notification(processId: number, channel: string, payload: string): Buffer {
  const c = Buffer.from(channel)
  const p = Buffer.from(payload)
  const length = 4 + 4 + c.length + 1 + p.length + 1
  const b = Buffer.alloc(1 + length)
  b[0] = 0x41
  b.writeInt32BE(length, 1)
  b.writeInt32BE(processId, 5)
  c.copy(b, 9)
  p.copy(b, 9 + c.length + 1)
  return b
}

/** Payloads vary per message (a counter in front), as real ones do: no decoder may cache them. */
function workload(payloadSize: number): { wire: Buffer; count: number } {
  const parts: Buffer[] = []
  let total = 0
  for (let i = 0; total < targetBytes; i++) {
    const payload = payloadSize === 0 ? '' : `${i}:`.padEnd(payloadSize, 'x').slice(0, payloadSize)
    const m = notification(4242, 'orders', payload)
    parts.push(m)
    total += m.length
  }
  return { wire: Buffer.concat(parts), count: parts.length }
}

type Decoder = (wire: Buffer, chunkSize: number) => number

/** pglisten's Framer with the Node edge's UTF-8 decoder, as a Node connection uses it. */
const pglisten: Decoder = (wire, chunkSize) => {
  const framer = new Framer({ decodeText: decodeUtf8Fast })
  let checksum = 0
  for (let at = 0; at < wire.length; at += chunkSize) {
    framer.push(wire.subarray(at, at + chunkSize))
    for (let m = framer.next(); m !== undefined; m = framer.next()) {
      if (m.type === 'NotificationResponse') checksum += m.payload.length + 1
    }
  }
  return checksum
}

/** pglisten's Framer with the portable TextDecoder, as on Workers or Deno without node:buffer. */
const pglistenPortable: Decoder = (wire, chunkSize) => {
  const framer = new Framer()
  let checksum = 0
  for (let at = 0; at < wire.length; at += chunkSize) {
    framer.push(wire.subarray(at, at + chunkSize))
    for (let m = framer.next(); m !== undefined; m = framer.next()) {
      if (m.type === 'NotificationResponse') checksum += m.payload.length + 1
    }
  }
  return checksum
}

const pgProtocol: Decoder = (wire, chunkSize) => {
  const parser = new Parser()
  let checksum = 0
  for (let at = 0; at < wire.length; at += chunkSize) {
    parser.parse(wire.subarray(at, at + chunkSize), (m) => {
      if (m.name === 'notification') checksum += (m as unknown as { payload: string }).payload.length + 1
    })
  }
  return checksum
}

const decoders = { 'pglisten': pglisten, 'pglisten (portable)': pglistenPortable, 'pg-protocol': pgProtocol }

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

interface Row { payload: number; chunk: number; decoder: string; messagesPerSecond: number; megabytesPerSecond: number }
const rows: Row[] = []

for (const payloadSize of [0, 100, 1000]) {
  const { wire, count } = workload(payloadSize)
  const expected = count * (payloadSize + 1)
  for (const chunkSize of [64 * 1024, 1024]) {
    const seconds: Record<string, number[]> = Object.fromEntries(Object.keys(decoders).map((k) => [k, []]))
    // Warm up every decoder on this shape, then interleave the measured rounds.
    for (const decode of Object.values(decoders)) decode(wire.subarray(0, wire.length >> 3), chunkSize)
    for (let round = 0; round < rounds; round++) {
      for (const [name, decode] of Object.entries(decoders)) {
        const start = process.hrtime.bigint()
        const checksum = decode(wire, chunkSize)
        const elapsed = Number(process.hrtime.bigint() - start) / 1e9
        if (checksum !== expected) throw new Error(`${name} decoded ${checksum} payload bytes, expected ${expected}`)
        seconds[name]!.push(elapsed)
      }
    }
    for (const name of Object.keys(decoders)) {
      const s = median(seconds[name]!)
      rows.push({ payload: payloadSize, chunk: chunkSize, decoder: name, messagesPerSecond: count / s, megabytesPerSecond: wire.length / s / 1e6 })
    }
  }
}

if (args.json) {
  console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, rounds, rows }, null, 2))
} else {
  console.log(`Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length}, ${rounds} rounds of ${args.mib} MiB, median`)
  console.log('payload  chunk   decoder               messages/s     MB/s   vs pg-protocol')
  for (const row of rows) {
    const base = rows.find((r) => r.payload === row.payload && r.chunk === row.chunk && r.decoder === 'pg-protocol')!
    console.log(
      `${String(row.payload).padStart(7)}  ${(row.chunk === 1024 ? '1 KiB' : '64 KiB').padStart(6)}  ${row.decoder.padEnd(20)}` +
      `${(row.messagesPerSecond / 1e6).toFixed(2).padStart(9)} M ${row.megabytesPerSecond.toFixed(0).padStart(7)}` +
      `   ${(row.messagesPerSecond / base.messagesPerSecond).toFixed(2)}x`,
    )
  }
}
