/**
 * What `pglisten COMMAND --help` says against what the command does, where the two could drift
 * apart: the text is written by hand.
 */
import { expect, test } from 'vitest'
import { Liveness } from '../../../src/listener/liveness.ts'
import { usage } from '../../../src/cli/usage.ts'

/** An option's entry in a help text: its first line and the indented lines under it, joined. */
function entry(text: string, option: string): string {
  const lines = text.split('\n')
  const start = lines.findIndex((line) => line.trimStart().startsWith(option))
  expect(start, option).toBeGreaterThanOrEqual(0)
  const rest = lines.slice(start + 1)
  const end = rest.findIndex((line) => !/^ {27}\S/.test(line))
  return [lines[start], ...rest.slice(0, end)].join(' ').replace(/\s+/g, ' ').trim()
}

test('listen --help: --heartbeat sends what a heartbeat sends, a Sync (no empty query, which would blank pg_stat_activity.query)', async () => {
  const asked: string[] = []
  const connection = {
    bytesReceived: 0,
    sync: async () => void asked.push('Sync'),
    query: async () => void asked.push('Query'),
  }
  const liveness = new Liveness({ interval: 1_000 }, { connection: () => connection, reading: () => true, answered() {}, dead() {} })
  await liveness.beat()
  expect(asked).toEqual(['Sync'])
  const heartbeat = entry(usage('listen'), '--heartbeat=SECONDS')
  expect(heartbeat).toMatch(/^--heartbeat=SECONDS send a Sync message every SECONDS;/)
  expect(heartbeat).not.toMatch(/quer/)
})

test('replicate and bench --help: a second SIGHUP is not said to stop at once (it is ignored: src/cli/stop-signals.ts)', () => {
  const prose = (text: string) => text.replace(/\s+/g, ' ')
  expect(prose(usage('replicate'))).toContain('(a second SIGINT or SIGTERM stops at once; a second SIGHUP is the same hang-up told again)')
  expect(prose(usage('bench'))).toContain('A second SIGINT or SIGTERM quits at once.')
  for (const command of ['replicate', 'bench'] as const) expect(prose(usage(command))).not.toContain('second signal')
})
