/**
 * SASLprep (RFC 4013, a profile of RFC 3454 "stringprep") exactly as PostgreSQL applies it to
 * passwords, and libpq's rule on top of it. Imports only the generated tables.
 *
 * The server prepares a password this way when it stores its SCRAM secret, and the client must
 * prepare it the same way or a correct password is refused. So where PostgreSQL's
 * src/common/saslprep.c departs from the letter of the RFCs, this follows PostgreSQL:
 *
 * - An all-ASCII password is used as is: no mapping, normalization or bidi rule can change it.
 *   (PostgreSQL returns it as is even with control characters, which stringprep prohibits; here
 *   `saslprep` reports the failure and `scramPassword` falls back to the same unchanged string.)
 * - A password that maps to nothing (only B.1 characters such as U+00AD) fails: no empty passwords.
 * - The prohibited-output and bidi checks look at the string after mapping but BEFORE NFKC
 *   normalization (RFC 3454 section 3 checks the normalized string). Every character that passes
 *   them is assigned in Unicode 3.2, whose NFKC forms are frozen by Unicode's normalization
 *   stability policy, so `normalize('NFKC')` agrees with PostgreSQL's own tables.
 */
import { L_CAT, MAPPED_TO_NOTHING, NON_ASCII_SPACE, PROHIBITED, RAND_AL_CAT, UNASSIGNED } from './saslprep-tables.ts'

/**
 * SASLprep of a password for SCRAM, or undefined when stringprep fails: a prohibited or unassigned
 * character, a broken bidi rule, a lone surrogate (not Unicode text), or nothing left after mapping.
 */
export function saslprep(password: string): string | undefined {
  // All ASCII (a test of its own, not bytes/utf8.ts's isAscii: see password.ts on shared chunks).
  if (/^[\0-\x7f]*$/.test(password)) return hasAsciiControl(password) ? undefined : password

  // RFC 3454 section 3, step 1, with the mappings RFC 4013 section 2.1 chooses: C.1.2 non-ASCII
  // spaces become U+0020, B.1 characters are removed. No case folding (B.2): passwords keep case.
  const mapped: number[] = []
  for (const char of password) {
    const code = char.codePointAt(0)!
    // A surrogate on its own here is half of no pair: the string is not Unicode text. PostgreSQL
    // would see invalid UTF-8 and fail the same way.
    if (code >= 0xd800 && code <= 0xdfff) return undefined
    if (inTable(NON_ASCII_SPACE, code)) mapped.push(0x20)
    else if (!inTable(MAPPED_TO_NOTHING, code)) mapped.push(code)
  }
  if (mapped.length === 0) return undefined

  // Step 3, prohibit: RFC 4013 section 2.3 (C.1.2, C.2.1 to C.9) and section 2.5 (unassigned in
  // Unicode 3.2, table A.1). Run on the mapped, not yet normalized, code points, as PostgreSQL does.
  for (const code of mapped) {
    if (inTable(PROHIBITED, code) || inTable(UNASSIGNED, code)) return undefined
  }

  // Step 4, bidi (RFC 3454 section 6, required by RFC 4013 section 2.4): a string with any
  // right-to-left character (D.1) must have no left-to-right one (D.2), and must begin and end
  // with a right-to-left character. Rule 1 (C.8 prohibited) is already part of PROHIBITED.
  if (mapped.some((code) => inTable(RAND_AL_CAT, code))) {
    if (mapped.some((code) => inTable(L_CAT, code))) return undefined
    if (!inTable(RAND_AL_CAT, mapped[0]!) || !inTable(RAND_AL_CAT, mapped[mapped.length - 1]!)) return undefined
  }

  // Step 2, normalize with Unicode NFKC (RFC 4013 section 2.2), whose result is the output.
  let text = ''
  for (const code of mapped) text += String.fromCodePoint(code)
  return text.normalize('NFKC')
}

/**
 * The password SCRAM hashes: its SASLprep form, or the raw password when SASLprep fails. This is
 * libpq's rule (scram_init and pg_fe_scram_build_secret in fe-auth-scram.c), and the server's
 * when it builds a secret, because PostgreSQL never required passwords to be valid stringprep.
 */
export function scramPassword(password: string): string {
  return saslprep(password) ?? password
}

/** Whether `code` lies in one of the [first, last] ranges of a flat, sorted table. */
export function inTable(table: readonly number[], code: number): boolean {
  // Binary search over the ranges: range r spans table[2r] to table[2r + 1].
  let low = 0
  let high = table.length / 2 - 1
  while (low <= high) {
    const middle = (low + high) >>> 1
    if (code < table[2 * middle]!) high = middle - 1
    else if (code > table[2 * middle + 1]!) low = middle + 1
    else return true
  }
  return false
}

/** C.2.1, the ASCII control characters U+0000 to U+001F and U+007F: prohibited output. */
function hasAsciiControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x20 || unit === 0x7f) return true
  }
  return false
}
