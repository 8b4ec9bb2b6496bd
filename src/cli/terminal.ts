/**
 * Text on its way to a terminal, with nothing in it a terminal would act on. Every line the
 * command writes to stdout or stderr goes through terminalSafe, because much of it is not
 * ours: the server's messages (a NOTICE, an ErrorResponse, a server_version), and names the
 * server or the user chose (a database, a user, a channel). Pure: imports nothing.
 *
 * A control character in such text is an instruction to the terminal: ESC or CSI (U+009B, read
 * as ESC [) begins a sequence that clears the screen, moves the cursor, sets the window title
 * or, on some terminals, writes to the clipboard; CR and backspace move back over what was
 * written, so that a line can show something else than it says. So each is written as a JSON
 * string writes it (\u001b, \u009b, \r, \b), which a person can read and a JSON reader takes
 * for the same character; a JSON line stays JSON that means the same.
 *
 * What is kept: every printable character, non-ASCII letters included, and the tab, which
 * moves the cursor forward over nothing and so can neither hide nor rewrite what is shown
 * (the server's messages use it as whitespace; JSON allows it between tokens). A line break
 * is escaped too: a status line is one line, and a message with "\npglisten: ..." in it must
 * not pass for a line of ours. A backslash is left as it is: "\u001b" typed out is harmless.
 */

/**
 * C0 controls but the tab, DEL, the C1 controls (U+0080 to U+009F), the line and paragraph
 * separators U+2028/U+2029, which some terminals and most editors take for line breaks, and
 * the bidirectional embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069),
 * with which a terminal that lays out right-to-left text shows a line's end before its start
 * (Trojan Source, CVE-2021-42574). The marks (U+200E, U+200F) and the joiners stay: they
 * reorder nothing that follows, and letters and emoji need them.
 */
const controls = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** The short escapes JSON.stringify writes (ECMA-262, QuoteJSONString); the tab is kept. */
const short: Readonly<Record<string, string>> = { '\b': '\\b', '\n': '\\n', '\f': '\\f', '\r': '\\r' }

/** `text` with every control character but the tab written as a JSON string escape. */
export function terminalSafe(text: string): string {
  return text.replace(controls, (c) => short[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Text of several lines (a table, indented JSON): each line made safe, the line breaks between them kept. */
export function terminalSafeLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n')
}
