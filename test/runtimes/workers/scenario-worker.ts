/**
 * The scenario (../scenario.ts), then pglisten/lite's (../lite-scenario.ts), as a Worker: one
 * request runs all of it, because a socket belongs to the request that opened it. POST the
 * configuration as JSON; the answer is the verdict as JSON. Bundled by ../workerd.ts with the "workerd" export condition, so 'pglisten'
 * and 'pglisten/lite' are the package's workerd builds (dist/workers.js and dist/lite-workers.js,
 * cloudflare:sockets, no node: module).
 */
import * as pglisten from 'pglisten'
import * as lite from 'pglisten/lite'
import { both, runLiteScenario } from '../lite-scenario.ts'
import { runScenario, type ScenarioConfig } from '../scenario.ts'

export default {
  async fetch(request: Request): Promise<Response> {
    const config = (await request.json()) as ScenarioConfig
    // pglisten's Workers platform warns on console.warn; as under Bun and Deno, a warning fails the run.
    const warnings: string[] = []
    const warn = console.warn
    console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '))
    try {
      const verdict = both(await runScenario(pglisten, config), await runLiteScenario(lite, config))
      return Response.json(verdict.ok && warnings.length > 0 ? { ...verdict, ok: false, error: `warnings:\n${warnings.join('\n')}` } : verdict)
    } finally {
      console.warn = warn
    }
  },
}
