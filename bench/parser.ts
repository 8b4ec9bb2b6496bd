/**
 * Parser benchmark: decodes NotificationResponse messages from one large buffer fed in 64 KiB
 * and 1 KiB chunks, for payloads of 0, 100 and 1000 bytes, with pglisten's Framer and with
 * node-postgres's pg-protocol Parser, on the same bytes.
 *
 *   npm run bench:parser [-- --rounds 9 --mib 16 --json]
 *
 * Each measurement runs in a fresh process, so no decoder's JIT type feedback can slow
 * another's. A round measures every shape with every decoder back to back. The table gives
 * the median over rounds of messages/s and MB/s, and the median of the per-round ratios to
 * pg-protocol, which is what the goal is stated in and what shared-machine noise disturbs least.
 * pg-protocol is a dev dependency of this benchmark only.
 */
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { decoders, type DecoderName } from './parser-decoders.ts'
import { shapes, workload } from './parser-workload.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '9' },
    mib: { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
    shape: { type: 'string' },
  },
})
const mib = Number(args.mib)

interface Measurement { seconds: number; messages: number; bytes: number }

if (args.child !== undefined) {
  // One decoder, one shape: a warm-up pass, then the fastest of three timed passes (noise on a
  // shared machine only ever adds time). No forced gc() between passes: on Node 20 it halves
  // the throughput of the passes that follow.
  const decode = decoders[args.child as DecoderName]
  const { payload, chunk } = shapes[Number(args.shape)]!
  const { wire, count, payloadBytes } = workload(payload, mib)
  decode(wire, chunk)
  let seconds = Infinity
  for (let pass = 0; pass < 3; pass++) {
    const start = process.hrtime.bigint()
    const checksum = decode(wire, chunk)
    seconds = Math.min(seconds, Number(process.hrtime.bigint() - start) / 1e9)
    if (checksum !== payloadBytes) throw new Error(`${args.child} decoded ${checksum} payload bytes, expected ${payloadBytes}`)
  }
  const result: Measurement = { seconds, messages: count, bytes: wire.length }
  process.stdout.write(JSON.stringify(result))
  process.exit(0)
}

// Every round measures each shape with each decoder back to back, so a slow spell on the
// machine hits the decoders being compared alike; ratios are taken within a round.
const self = fileURLToPath(import.meta.url)
const names = Object.keys(decoders) as DecoderName[]
const rounds = Number(args.rounds)
const runs: Measurement[][][] = shapes.map(() => names.map(() => []))
for (let round = 0; round < rounds; round++) {
  shapes.forEach((_, shape) => {
    names.forEach((name, d) => {
      const argv = [...process.execArgv, self, '--child', name, '--shape', String(shape), '--mib', String(mib)]
      runs[shape]![d]!.push(JSON.parse(execFileSync(process.execPath, argv, { encoding: 'utf8' })))
    })
  })
  if (!args.json) process.stderr.write(`round ${round + 1}/${rounds}\r`)
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const baseline = names.indexOf('pg-protocol')
const rows = shapes.flatMap(({ payload, chunk }, shape) =>
  names.map((decoder, d) => {
    const mine = runs[shape]![d]!
    const base = runs[shape]![baseline]!
    const { messages, bytes } = mine[0]!
    const seconds = median(mine.map((m) => m.seconds))
    return {
      payload,
      chunk,
      decoder,
      messagesPerSecond: messages / seconds,
      megabytesPerSecond: bytes / seconds / 1e6,
      /** The median over rounds of this decoder's speed over pg-protocol's in the same round. */
      ratio: median(mine.map((m, round) => base[round]!.seconds / m.seconds)),
    }
  }),
)

if (args.json) {
  console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, rounds, mib, rows }, null, 2))
} else {
  console.log(`Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length}, ${rounds} rounds of ${mib} MiB`)
  console.log('payload  chunk   decoder               messages/s     MB/s   vs pg-protocol')
  for (const row of rows) {
    console.log(
      `${String(row.payload).padStart(7)}  ${(row.chunk === 1024 ? '1 KiB' : '64 KiB').padStart(6)}  ${row.decoder.padEnd(20)}` +
      `${(row.messagesPerSecond / 1e6).toFixed(2).padStart(9)} M ${row.megabytesPerSecond.toFixed(0).padStart(7)}` +
      `   ${row.ratio.toFixed(2)}x`,
    )
  }
}
