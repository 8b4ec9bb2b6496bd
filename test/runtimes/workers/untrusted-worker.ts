/**
 * A Worker whose workerd does not trust the test server's certificate (../workerd.ts gives it
 * an empty trust store): connecting with TLS must fail with pglisten's ConnectionLostError that
 * says so, not with workerd's bare "internal error". POST the configuration as JSON; the answer
 * is the verdict as JSON.
 */
import * as pglisten from 'pglisten'
import { serverOptions, type ScenarioConfig, type Verdict } from '../scenario.ts'

export default {
  async fetch(request: Request): Promise<Response> {
    const config = (await request.json()) as ScenarioConfig
    return Response.json(await connectUntrusted(config))
  },
}

async function connectUntrusted(config: ScenarioConfig): Promise<Verdict> {
  const started = Date.now()
  const step = 'TLS to a server whose certificate workerd does not trust'
  try {
    const connection = await pglisten.connect({
      ...serverOptions(config),
      sslmode: 'require',
      sslcertmode: 'disable',
    })
    await connection.close()
    return { ok: false, steps: [], error: `${step}: connected, encrypted: ${connection.encrypted}` }
  } catch (error) {
    const chain = causes(error)
    // pglisten's words, and workerd's own error kept at the end of the causes.
    const ok =
      error instanceof pglisten.ConnectionLostError &&
      /did not trust the TLS certificate/.test(error.message) &&
      /own trust store/.test(error.message) &&
      /^internal error/.test(chain.at(-1)!.message)
    const text = `${chain.map((e) => e.name).join(' <- ')}: ${chain[0]?.message ?? String(error)}`
    return ok ? { ok, steps: [`${String(Date.now() - started).padStart(5)} ms  ${step}: ${text}`] } : { ok, steps: [], error: `${step}: ${text}` }
  }
}

/** The error and its causes. */
function causes(error: unknown): Error[] {
  const chain: Error[] = []
  for (let e = error; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e)
  return chain
}
