#!/usr/bin/env node
/**
 * pglisten, the command (package.json "bin"): reads the command line and runs the command it
 * names. Whatever goes wrong ends as one line on stderr and an exit status (errors.ts), never
 * a stack trace. Imports the command modules, and node:fs for the version.
 */
import { readFileSync } from 'node:fs'
import { parseCommandLine, type Command } from './args.ts'
import { bench } from './bench/run.ts'
import { benchListener } from './bench/listener-process.ts'
import { errorLines, exitStatus } from './errors.ts'
import { closeHungUpTerminalsOnExit } from './hung-up-terminal.ts'
import { listen } from './listen.ts'
import { notify } from './notify.ts'
import { alreadySaid, exitWhenWritten, handleOutputErrors } from './output.ts'
import { replicate } from './replicate.ts'
import { usage } from './usage.ts'

async function run(command: Command): Promise<number> {
  switch (command.name) {
    case 'help':
      process.stdout.write(usage(command.command))
      return 0
    case 'version':
      process.stdout.write(`pglisten ${version()}\n`)
      return 0
    case 'listen':
      return listen(command)
    case 'replicate':
      return replicate(command)
    case 'notify':
      return notify(command)
    case 'bench':
      return bench(command)
    case 'bench-listener':
      return benchListener()
  }
}

/** From package.json, two folders up from both src/cli/main.ts and dist/cli/main.js. */
function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return manifest.version
}

handleOutputErrors()
closeHungUpTerminalsOnExit()
Promise.resolve()
  .then(() => run(parseCommandLine(process.argv.slice(2))))
  .then((status) => exitWhenWritten(status), (error: unknown) => {
    // A failed write to stdout (a full disk) was said when it came (handleOutputErrors).
    if (!alreadySaid(error)) for (const line of errorLines(error)) process.stderr.write(`${line}\n`)
    return exitWhenWritten(exitStatus(error))
  })
