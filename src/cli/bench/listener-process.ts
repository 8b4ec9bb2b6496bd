/**
 * One of `pglisten bench`'s listeners, in a process of its own (`pglisten bench-listener`,
 * forked by the bench), so that process.cpuUsage() measures listening and nothing else: the
 * notifiers, the progress line and the arithmetic run in the bench's process. Imports the
 * listener and the bench's message and payload formats.
 *
 * Per notification it does what an application's loop would (the listener decodes it, the
 * iterator hands it over), plus the bookkeeping the measurement needs: one clock reading, the
 * payload's stamp parsed, one number stored.
 */
import { createListener } from '../../index.ts'
import { stderrTracer } from '../connection.ts'
import { warning } from '../output.ts'
import { describeError, UsageError } from '../errors.ts'
import { stopSignals } from '../stop-signals.ts'
import { terminalSafe } from '../terminal.ts'
import type { FromListener, InitMessage, ToListener } from './messages.ts'
import { endedPhase, nanosSince, readStamp } from './payload.ts'

interface Phase {
  id: number
  latencies: number[]
  cpu: NodeJS.CpuUsage
  lastNanos: number
  gaps: number
}

/** Set once the listener is up: how to end this process cleanly when the bench lets go. */
let closing: (() => Promise<void>) | undefined

export async function benchListener(): Promise<number> {
  const send = process.send?.bind(process)
  if (!send) throw new UsageError('bench-listener is started by pglisten bench, not by hand', 'bench')
  const tell = (message: FromListener): void => void send(message)
  // Ctrl-C (and a SIGTERM sent to the process group, or the SIGHUP of a terminal closed on the
  // job) reaches this process with the bench: the bench decides when its listeners stop, after
  // their last report, by letting go of the IPC channel; that also ends this process if the
  // bench is killed outright.
  for (const signal of stopSignals) process.on(signal, () => {})
  process.once('disconnect', () => void (closing ? closing() : process.exit(0)))
  try {
    return await run(tell, await initMessage())
  } catch (error) {
    if (!process.connected) return 0 // the bench let go while this process was starting: nothing failed
    // Sent before returning: the process exits next, and would drop a message still queued.
    await new Promise((resolve) => send({ type: 'failed', message: describeError(error) } satisfies FromListener, resolve))
    return 1
  }
}

async function run(tell: (message: FromListener) => void, init: InitMessage): Promise<number> {
  const epoch = BigInt(init.epoch)
  const listener = await createListener({ ...init.options, onWarning: warning, ...(init.trace ? { trace: stderrTracer() } : {}) })
  // The bench going away (it ended, or was killed) ends this process too: at once while
  // connecting, by closing the listener once it is up.
  closing = () => listener.close()
  listener.on('error', (error) => process.stderr.write(`pglisten: bench listener ${process.pid}: ${terminalSafe(describeError(error))}\n`))
  const items = listener.notifications({ channels: [init.channel] })
  await listener.listen(init.channel)

  let phase: Phase | undefined
  process.on('message', (message: ToListener) => {
    if (message.type !== 'start') return
    phase = { id: message.phase, latencies: [], cpu: process.cpuUsage(), lastNanos: 0, gaps: 0 }
    tell({ type: 'started', phase: message.phase })
  })
  const progress = setInterval(() => phase && tell({ type: 'progress', phase: phase.id, received: phase.latencies.length }), 250)
  tell({ type: 'ready' })

  for await (const item of items) {
    const now = nanosSince(epoch)
    if (phase === undefined) continue
    if (item.type === 'Gap') {
      phase.gaps++
      continue
    }
    const ended = endedPhase(item.payload)
    if (ended === undefined) {
      phase.latencies.push(now - readStamp(item.payload))
      phase.lastNanos = now
    } else if (ended === phase.id) {
      const cpu = process.cpuUsage(phase.cpu)
      const { id, latencies, lastNanos, gaps } = phase
      phase = undefined
      tell({ type: 'done', phase: id, received: latencies.length, latencies: Float64Array.from(latencies), cpuMicros: cpu.user + cpu.system, lastNanos, gaps })
    }
  }
  clearInterval(progress)
  return 0
}

function initMessage(): Promise<InitMessage> {
  return new Promise((resolve) => {
    const receive = (message: ToListener): void => {
      if (message.type !== 'init') return
      process.off('message', receive)
      resolve(message)
    }
    process.on('message', receive)
  })
}
