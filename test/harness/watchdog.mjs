// Watchdog for one test cluster: a detached process that waits for the test run that started it
// to end, then stops the cluster and removes its folder. It covers the deaths that run no
// handler: SIGKILL, a crash, a signal during the second of startup. Its stdin is a pipe from that
// run, so its end of file is the run's death. A run that stops the cluster itself kills this first.
// Plain JavaScript because it runs in a bare `node`, outside vitest and tsx. Imports node: only.
//   node watchdog.mjs PG_CTL DATA_DIR CLUSTER_DIR UID GID KEEP   (UID, GID '' = stay ourselves)

import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const [pgCtl, data, dir, uid, gid, keep] = process.argv.slice(2)

process.stdin.on('data', () => {})
process.stdin.on('close', () => {
  // A pg_ctl start begun just before the death is given a moment to write postmaster.pid.
  setTimeout(() => {
    if (existsSync(join(data, 'postmaster.pid'))) {
      spawnSync(pgCtl, ['stop', '-w', '-t', '20', '-s', '-D', data, '-m', 'immediate'], {
        cwd: '/', stdio: 'ignore', uid: uid ? Number(uid) : undefined, gid: gid ? Number(gid) : undefined,
      })
    }
    if (keep !== '1') rmSync(dir, { recursive: true, force: true })
  }, 1000)
})
