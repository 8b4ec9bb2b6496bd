/**
 * Summarizes a V8 .cpuprofile (from `npm run bench -- --cpu-prof DIR`, which passes node's
 * --cpu-prof to every Node listener process): where the non-idle time went, by function and by
 * file. For a profile dominated by the measured batch, give the run a large --count.
 *
 *   tsx bench/e2e/profile.ts DIR/CPU.....cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const { values: args, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' } }, allowPositionals: true })
const root = fileURLToPath(new URL('../..', import.meta.url))
const profile = JSON.parse(readFileSync(positionals[0] ?? '', 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))

// Each sample is charged the time delta that follows it (V8's convention for self time).
const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)))

const where = (n: ProfileNode) => {
  const url = n.callFrame.url.replace(/^file:\/\//, '')
  return url ? `${relative(root, url)}:${n.callFrame.lineNumber + 1}` : ''
}
const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
let busy = 0
let idle = 0
for (const [id, us] of selfUs) {
  const node = byId.get(id)!
  const name = node.callFrame.functionName || '(anonymous)'
  if (name === '(idle)') {
    idle += us
    continue
  }
  busy += us
  const key = `${name}  ${where(node)}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  const file = where(node).replace(/:\d+$/, '') || name
  byFile.set(file, (byFile.get(file) ?? 0) + us)
}

const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`)
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top))) {
    console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${key}`)
  }
}
console.log(`busy ${(busy / 1000).toFixed(1)} ms, idle ${(idle / 1000).toFixed(1)} ms (main thread samples; GC and compilation on other threads are not sampled)`)
show('self time by function', byFunction)
show('self time by file', byFile)
