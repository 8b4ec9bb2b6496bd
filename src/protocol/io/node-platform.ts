/**
 * The Platform of Node, and of Bun and Deno through their node: modules: sockets from node:net
 * and node:tls, Buffer's fast decoders, files from node:fs, the process's environment, home
 * folder and user name. Imported only by src/protocol/node.ts, Node's connect(), and the Node
 * entry points (src/index.ts, src/protocol/index.ts) through it.
 *
 * Each fact is read only when asked (connect.ts asks only when a setting needs it), one
 * environment variable at a time: Deno grants --allow-env per variable and --allow-sys for the
 * user name, and what it refuses (NotCapable) is a warning for connect(), not a failure.
 * The password file's reader (password-file.ts) is loaded by dynamic import, when it is read.
 */
import { homedir, userInfo } from 'node:os'
import { loadTlsMaterial } from './files.ts'
import { openNodeLink } from './node-link.ts'
import { allocateBuffer, decodeLatin1Fast, decodeUtf8Fast } from './node-bytes.ts'
import { ShortStrings } from '../bytes/short-strings.ts'
import type { Platform } from './platform.ts'
import { onceEach } from '../options/context.ts'

export const nodePlatform: Platform = {
  openLink: openNodeLink,
  bytes: { decodeText: decodeUtf8Fast, ...(decodeLatin1Fast ? { shortStrings: () => new ShortStrings(decodeLatin1Fast!) } : {}), allocate: allocateBuffer },
  env: (name) => process.env[name],
  homeDir: () => homedir(),
  osUser: () => userInfo().username,
  // Everything libpq can do over node:net and node:tls, pglisten can do here.
  checkSettings: () => {},
  loadTlsMaterial,
  // Asked only when no password was given (connect.ts): most connections never load the reader.
  passwordFromFile: async (passfile, target, warn) => (await import('./password-file.ts')).passwordFromFile(passfile, target, warn),
  // Once per message and process: a listener's every reconnect would repeat it.
  warn: onceEach((message) => process.emitWarning(message, 'PgListenWarning')),
}
