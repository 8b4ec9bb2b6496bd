/**
 * What `pglisten listen` prints, byte for byte: a JSON line per notification with its keys in
 * a fixed order, payloads that are not JSON kept (never dropped), and gaps.
 */
import { describe, expect, test } from 'vitest'
import { errorLines, describeError, exitStatus, InputError, UsageError } from '../../../src/cli/errors.ts'
import { channelList, gapLine, gapStatus, notificationLine } from '../../../src/cli/format.ts'
import { ConsumerStalledError } from '../../../src/listener/errors.ts'
import { ConnectionLostError, DatabaseError } from '../../../src/protocol/errors.ts'

const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678))
const notification = (payload: string) => ({ type: 'NotificationResponse' as const, channel: 'jobs', payload, processId: 4711 })

describe('notificationLine', () => {
  test('one line: channel, payload, pid, received_at to the millisecond, in that order', () => {
    expect(notificationLine(notification('42'), at, false)).toBe('{"channel":"jobs","payload":"42","pid":4711,"received_at":"2026-01-02T03:04:05.678Z"}\n')
  })

  test('a payload with a newline, quotes and a backslash stays on one line', () => {
    const line = notificationLine(notification('a\n"b"\\c\u2028'), at, false)
    expect(line.indexOf('\n')).toBe(line.length - 1)
    expect(JSON.parse(line).payload).toBe('a\n"b"\\c\u2028')
  })

  // Found by review: ESC was escaped (by JSON.stringify) but U+009B, CSI, went out raw to the terminal.
  test('DEL, C1 controls and U+2028/U+2029 are escaped as C0 controls are: the same value, nothing a terminal acts on', () => {
    const controls = '\u001b[2J \u007f \u0080 \u0085 \u009b2J \u009f \u2028 \u2029'
    for (const line of [notificationLine(notification(controls), at, false), notificationLine(notification(JSON.stringify({ [controls]: controls })), at, true)]) {
      expect(line.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
      expect(line).toContain('\\u009b2J')
    }
    expect(JSON.parse(notificationLine(notification(controls), at, false)).payload).toBe(controls)
    expect(JSON.parse(notificationLine(notification(JSON.stringify({ [controls]: controls })), at, true)).payload).toEqual({ [controls]: controls })
    expect(JSON.parse(notificationLine({ ...notification(''), channel: controls }, at, false)).channel).toBe(controls)
    expect(channelList([controls])).toBe('"\\u001b[2J \\u007f \\u0080 \\u0085 \\u009b2J \\u009f \\u2028 \\u2029"')
  })

  test('--json-payload: the JSON value the payload holds', () => {
    expect(notificationLine(notification('{"id":1,"tags":["x"]}'), at, true)).toBe('{"channel":"jobs","payload":{"id":1,"tags":["x"]},"pid":4711,"received_at":"2026-01-02T03:04:05.678Z"}\n')
    expect(JSON.parse(notificationLine(notification(' null '), at, true))).toMatchObject({ payload: null })
  })

  test('--json-payload: the value exactly as written (no number rounded), on one line', () => {
    const payload = '{\n  "big": 12345678901234567890,\r\n  "f": 1.0, "s": "a\\nb"\n}\n'
    const line = notificationLine(notification(payload), at, true)
    expect(line).toBe('{"channel":"jobs","payload":{   "big": 12345678901234567890,   "f": 1.0, "s": "a\\nb" },"pid":4711,"received_at":"2026-01-02T03:04:05.678Z"}\n')
    expect(JSON.parse(line).payload).toEqual(JSON.parse(payload))
  })

  test.each([['not json'], [''], ['{"unterminated":'], ['NaN']])('--json-payload: %j holds no JSON, and is printed as text with payload_error', (payload) => {
    const record = JSON.parse(notificationLine(notification(payload), at, true))
    expect(Object.keys(record)).toEqual(['channel', 'payload', 'payload_error', 'pid', 'received_at'])
    expect(record.payload).toBe(payload)
    expect(record.payload_error).toMatch(/^not JSON: ./)
  })
})

describe('gaps', () => {
  const gap = { type: 'Gap' as const, from: at, to: new Date(at.getTime() + 250), cause: undefined }

  const terminated = new DatabaseError({ severity: 'FATAL', code: '57P01', message: 'terminating connection due to administrator command' })
  const lost = new ConnectionLostError(`the server closed the connection: ${terminated.message}`, { cause: terminated })

  test('on stdout (--gaps), with the cause as the status line says it; null when the connection ended without an error', () => {
    expect(gapLine({ ...gap, cause: lost })).toBe(
      '{"gap":{"from":"2026-01-02T03:04:05.678Z","to":"2026-01-02T03:04:05.928Z","cause":"the server closed the connection: terminating connection due to administrator command (SQLSTATE 57P01)"}}\n',
    )
    expect(gapLine(gap)).toBe('{"gap":{"from":"2026-01-02T03:04:05.678Z","to":"2026-01-02T03:04:05.928Z","cause":null}}\n')
  })

  test('on stderr', () => {
    expect(gapStatus({ ...gap, cause: lost }, 99)).toBe('reconnected (backend pid 99): notifications between 2026-01-02T03:04:05.678Z and 2026-01-02T03:04:05.928Z may have been lost')
  })

  test('on stderr, for a reader of stdout too slow for the listener: not a reconnect', () => {
    const stalled = new ConsumerStalledError('iterator #1 read nothing for 30000 ms while 1024 notifications waited for it; it is cut off and will get a Gap when it reads again', 'iterator #1', 1024)
    expect(gapStatus({ ...gap, cause: stalled }, 99)).toBe(
      'notifications between 2026-01-02T03:04:05.678Z and 2026-01-02T03:04:05.928Z may have been lost: iterator #1 read nothing for 30000 ms while 1024 notifications waited for it; it is cut off and will get a Gap when it reads again',
    )
  })

  test('channel names as they can be typed again', () => {
    expect(channelList(['jobs', 'Two "words"'])).toBe('"jobs", "Two \\"words\\""')
  })
})

describe('errors: one line, and the exit status', () => {
  test('a DatabaseError shows severity and SQLSTATE', () => {
    const error = new DatabaseError({ severity: 'FATAL', code: '28P01', message: 'password authentication failed for user "app"' })
    expect(errorLines(error)).toEqual(['pglisten: FATAL: password authentication failed for user "app" (SQLSTATE 28P01)'])
    expect(exitStatus(error)).toBe(1)
  })

  test('a cause is appended unless the message already says it, and then its SQLSTATE is', () => {
    const refused = new ConnectionLostError('cannot connect', { cause: new Error('ECONNREFUSED') })
    expect(describeError(refused)).toBe('cannot connect: ECONNREFUSED')
    const terminated = new DatabaseError({ severity: 'FATAL', code: '57P01', message: 'terminating connection due to administrator command' })
    expect(describeError(new ConnectionLostError(`the server closed the connection: ${terminated.message}`, { cause: terminated }))).toBe(
      'the server closed the connection: terminating connection due to administrator command (SQLSTATE 57P01)',
    )
  })

  test("a message that already gives the cause's SQLSTATE does not get it twice", () => {
    const full = new DatabaseError({ severity: 'ERROR', code: '54000', message: 'too many notifications in the NOTIFY queue' })
    const wrapped = new Error(`standard input line 3: ${describeError(full)}; lines 1 to 2 were sent`, { cause: full })
    expect(describeError(wrapped)).toBe('standard input line 3: ERROR: too many notifications in the NOTIFY queue (SQLSTATE 54000); lines 1 to 2 were sent')
  })

  test('newlines never split the line', () => {
    expect(describeError(new Error('first\n  second\r\nthird'))).toBe('first second third')
  })

  test('a usage error: status 2, and a hint naming the command', () => {
    const error = new UsageError('no channel given', 'listen', { cause: new Error('the parser says so too') })
    expect(errorLines(error)).toEqual(['pglisten: no channel given', 'Try "pglisten listen --help" for more information.'])
    expect(exitStatus(error)).toBe(2)
    expect(errorLines(new UsageError('no command given'))[1]).toBe('Try "pglisten --help" for more information.')
  })

  test('bad input: status 1', () => {
    expect(exitStatus(new InputError('standard input line 2: not valid UTF-8'))).toBe(1)
  })
})
