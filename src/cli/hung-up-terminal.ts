/**
 * Leaving cleanly after the terminal has hung up (closed, an ssh connection dropped), which is
 * what the commands do on SIGHUP (./stop-signals.ts), without Node aborting as it leaves.
 * Imports node:fs and node:tty.
 *
 * Node notes, as it starts, the settings of each of descriptors 0-2 that is a terminal, and
 * puts them back as it exits (ResetStdio, src/node.cc); a tcsetattr() failing there for any
 * reason but EPERM aborts the process ("Assertion failed: !(err != 0) || (err == -1 && errno
 * == 1)": SIGABRT, a core dump where they are kept). A terminal that has hung up fails it with
 * EIO (its ioctls all do), so every clean exit after a hang-up would end so. Node no longer
 * checks (nodejs/node#58200, for issue #51519), but the Node 20 this package supports does.
 * ResetStdio passes over a descriptor that is closed, and a terminal that has gone takes
 * nothing more: such a descriptor is closed on the way out.
 */
import { closeSync } from 'node:fs'
import { isatty } from 'node:tty'

/** Called once, as the command starts: which of stdin, stdout and stderr are terminals is noted then. */
export function closeHungUpTerminalsOnExit(): void {
  const terminals = [0, 1, 2].filter((fd) => isatty(fd))
  process.on('exit', () => {
    // isatty() asks the terminal (TCGETS), which a hung-up one refuses with EIO.
    for (const fd of terminals) {
      if (isatty(fd)) continue
      try {
        closeSync(fd)
      } catch {
        // Closed already: nothing for ResetStdio to find.
      }
    }
  })
}
