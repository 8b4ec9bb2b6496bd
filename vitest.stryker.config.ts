// Vitest as Stryker runs it (stryker.config.mjs): vitest.config.ts, with the unit project run
// before the integration project. Stryker stops a mutant's run at its first failing test, but
// vitest runs projects in name order (integration first), so a mutant that a unit test kills in
// a millisecond would first wait through every integration test that covers it.

import { defineConfig, type TestProjectConfiguration } from 'vitest/config'
import base from './vitest.config.ts'

/** sequence.groupOrder: lower groups run first, one group after the other. */
const groupOrder: Record<string, number> = { unit: 0, integration: 1 }

function ordered(project: TestProjectConfiguration): TestProjectConfiguration {
  if (typeof project !== 'object' || !('test' in project)) return project
  const name = project.test?.name
  const order = typeof name === 'string' ? groupOrder[name] : undefined
  if (order === undefined) throw new Error(`vitest.stryker.config.ts: no groupOrder for the project ${JSON.stringify(name)}`)
  return { ...project, test: { ...project.test, sequence: { ...project.test?.sequence, groupOrder: order } } }
}

export default defineConfig({
  ...base,
  test: { ...base.test, projects: (base.test?.projects ?? []).map(ordered) },
})
