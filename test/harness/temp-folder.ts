// A vitest globalSetup that gives the test run a temporary folder of its own: it makes one, and
// points TMPDIR (so os.tmpdir()) at it for this process and every test worker started after it.
// At the end it fails the run if anything named pglisten-* is still in it, then removes it.
// Imports node: modules only.
//
// Why a folder of the run's own, rather than a look at the machine's temporary folder: other
// runs (another checkout, CI jobs sharing /tmp, a second `vitest run` here) make and remove
// their own pglisten-* folders there at any moment, and a check of /tmp would blame this run
// for theirs. In a folder only this run knows of, whatever is left was left by this run.
//
// It must be listed before global-setup.ts: vitest runs globalSetup files in order and their
// teardowns in reverse, so the test cluster is made inside the run's folder and is stopped and
// removed before the check looks.

import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The machine's temporary folder, for what runs share on purpose (a copy of the PostgreSQL programs). */
export function machineTmpdir(): string {
  return process.env.PGLISTEN_MACHINE_TMPDIR || tmpdir()
}

export default function setup(): () => void {
  const saved = { TMPDIR: process.env.TMPDIR, PGLISTEN_MACHINE_TMPDIR: process.env.PGLISTEN_MACHINE_TMPDIR }
  const machine = machineTmpdir()
  const dir = mkdtempSync(join(machine, 'pglisten-run-'))
  // Run as root, the harness starts PostgreSQL as the postgres user, which must pass through
  // this folder to the cluster's folder and socket; 0711 lets it pass without listing it.
  chmodSync(dir, 0o711)
  process.env.PGLISTEN_MACHINE_TMPDIR = machine
  process.env.TMPDIR = dir

  // A run stopped by a signal gets no teardown (vitest exits at once), and its workers' afterEach
  // never ran: remove the folder anyway. global-setup.ts stops the cluster in an earlier 'exit'
  // listener, because pg_ctl needs the data folder that this removes.
  const remove = () => rmSync(dir, { recursive: true, force: true })
  process.once('exit', remove)

  return () => {
    process.off('exit', remove)
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    const left = readdirSync(dir).filter((name) => name.startsWith('pglisten-'))
    remove() // whatever the verdict: what was left may hold passwords and private keys
    if (left.length > 0) {
      // A teardown that throws is only logged by vitest (as "error during close"); the exit
      // status is ours to set.
      process.exitCode = 1
      throw new Error(
        `the test run left ${left.join(', ')} in its temporary folder ${dir} (now removed): ` +
          'whatever a test makes there it must remove, even when it fails',
      )
    }
  }
}
