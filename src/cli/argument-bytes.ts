/**
 * Whether a word of the command line was UTF-8 as typed. Node decodes process.argv as UTF-8
 * and puts U+FFFD in place of bytes that are not, so `pglisten notify jobs $'\xff'` would send
 * U+FFFD where standard input refuses the line (./lines.ts). The bytes themselves are in
 * /proc/self/cmdline on Linux. Imports node:fs.
 */
import { readFileSync } from 'node:fs'

// As Node decodes process.argv: bad bytes become U+FFFD, and a leading U+FEFF stays (ignoreBOM),
// so that a word that begins with one is found among the command line's bytes.
const lossy = new TextDecoder('utf-8', { ignoreBOM: true })
const strict = new TextDecoder('utf-8', { fatal: true })

/**
 * What is wrong with `word`, process.argv[2 + place], or undefined if it was UTF-8. A word
 * without U+FFFD was; one with it is read back from the command line's bytes at its place
 * (another word may decode to the same text from other bytes), so that a U+FFFD typed on
 * purpose is told from bad bytes. Where the bytes cannot be read (not Linux, or a command line
 * written over), U+FFFD is taken for what it almost always is there: bytes that were not UTF-8.
 */
export function notUtf8(word: string, place: number): string | undefined {
  if (!word.includes('\uFFFD')) return undefined
  const unread = 'it holds U+FFFD, the character put in place of bytes that are not UTF-8'
  const bytes = commandLineBytes()?.[place]
  // Bytes that do not decode to the word are not its own: the command line was written over
  // since (a process title, as `node --title` and NODE_OPTIONS set one, takes its place), so
  // the word's bytes cannot be read there either.
  if (bytes === undefined || lossy.decode(bytes) !== word) return unread
  const at = firstInvalid(bytes)
  return at === undefined ? undefined : `its byte ${at + 1} (0x${bytes[at]!.toString(16).padStart(2, '0')}) begins no valid UTF-8 character`
}

/** The words after node's own (the script's arguments), as bytes; undefined where /proc is not. */
function commandLineBytes(): Uint8Array[] | undefined {
  let all: Buffer
  try {
    all = readFileSync('/proc/self/cmdline')
  } catch {
    return undefined
  }
  const words: Uint8Array[] = []
  for (let start = 0; start < all.length; ) {
    const end = all.indexOf(0, start)
    words.push(all.subarray(start, end === -1 ? all.length : end))
    start = end === -1 ? all.length : end + 1
  }
  // The last ones are process.argv's after the script; before them, node and its options.
  return words.slice(-(process.argv.length - 2))
}

/**
 * Where the first sequence that is not UTF-8 starts. The lead byte gives the length (RFC 3629,
 * section 4); whether the sequence is valid (no overlong form, no surrogate, nothing past
 * U+10FFFF, continuation bytes where they belong) the fatal decoder decides.
 */
function firstInvalid(bytes: Uint8Array): number | undefined {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i]!
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0
    if (length === 0 || i + length > bytes.length) return i
    try {
      strict.decode(bytes.subarray(i, i + length))
    } catch {
      return i
    }
    i += length
  }
  return undefined
}
