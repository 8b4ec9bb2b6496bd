/**
 * What `pglisten listen` says while it reconnects, line by line, from the listener's events
 * in the order the listener emits them: 'reconnecting' before each wait, 'error' after each
 * failed attempt, and the ListenerError of giving up.
 */
import { describe, expect, test } from 'vitest'
import { incurable, ReconnectReport, seconds } from '../../../src/cli/reconnect-report.ts'
import { ListenerError } from '../../../src/listener/errors.ts'
import { AuthenticationRefusedError, ConnectionLostError, DatabaseError, PasswordRequiredError } from '../../../src/protocol/errors.ts'

const fatal = (code: string, message: string) => new DatabaseError({ severity: 'FATAL', code, message })
const refused = () => new ConnectionLostError('cannot connect to db:5432: connect ECONNREFUSED')
const badPassword = () => fatal('28P01', 'password authentication failed for user "app"')

/** A report writing into an array, and the events to drive it. */
function reporting(maxDelay = 30_000) {
  const lines: string[] = []
  const report = new ReconnectReport((line) => lines.push(line), maxDelay)
  const next = (attempt: number, maxAttempts = Infinity, delay = 250) => report.reconnecting({ attempt, maxAttempts, delay, error: undefined })
  return { lines, report, next }
}

describe('retry lines', () => {
  test('each attempt: its number, "of N" when there is a maximum, and the wait', () => {
    const { lines, next, report } = reporting()
    next(1, Infinity, 190)
    report.failed(refused())
    next(2, Infinity, 12_400)
    expect(lines).toEqual(['reconnecting: attempt 1 in 0.19 s', 'reconnect attempt 1 failed: cannot connect to db:5432: connect ECONNREFUSED', 'reconnecting: attempt 2 in 12 s'])

    const bounded = reporting()
    bounded.next(1, 5, 190)
    expect(bounded.lines).toEqual(['reconnecting: attempt 1 of 5 in 0.19 s'])
  })

  test('a failure like the one before is not printed again: the next line says so, until a different one comes', () => {
    const { lines, next, report } = reporting()
    next(1)
    report.failed(refused())
    next(2)
    report.failed(refused())
    next(3)
    report.failed(fatal('57P03', 'the database system is starting up'))
    next(4)
    report.failed(refused())
    next(5)
    expect(lines).toEqual([
      'reconnecting: attempt 1 in 0.25 s',
      'reconnect attempt 1 failed: cannot connect to db:5432: connect ECONNREFUSED',
      'reconnecting: attempt 2 in 0.25 s',
      'reconnecting: attempt 3 in 0.25 s (attempt 2 failed the same way)',
      'reconnect attempt 3 failed: FATAL: the database system is starting up (SQLSTATE 57P03)',
      'reconnecting: attempt 4 in 0.25 s',
      'reconnect attempt 4 failed: cannot connect to db:5432: connect ECONNREFUSED',
      'reconnecting: attempt 5 in 0.25 s',
    ])
  })

  test('a failure that waiting cannot cure is explained once, with what pglisten will do', () => {
    const { lines, next, report } = reporting(30_000)
    next(1)
    report.failed(badPassword())
    next(2)
    report.failed(badPassword())
    next(3)
    expect(lines).toEqual([
      'reconnecting: attempt 1 in 0.25 s',
      'reconnect attempt 1 failed: FATAL: password authentication failed for user "app" (SQLSTATE 28P01)',
      'the server refused the password: every attempt will fail this way until it changes, on the server or in a password file (read again at each attempt); pglisten will keep trying, at most 30 s apart, and not repeat this error (Ctrl-C stops it)',
      'reconnecting: attempt 2 in 0.25 s',
      'reconnecting: attempt 3 in 0.25 s (attempt 2 failed the same way)',
    ])
  })

  test('with a maximum: how many attempts are left; giving up says whether the last failed the same way', () => {
    const { lines, next, report } = reporting()
    next(1, 3)
    report.failed(fatal('3D000', 'database "shop" does not exist'))
    next(2, 3)
    report.failed(fatal('3D000', 'database "shop" does not exist'))
    next(3, 3)
    report.failed(fatal('3D000', 'database "shop" does not exist'))
    report.gaveUp(new ListenerError('gave up after 3 attempts to reconnect', { cause: refused() }))
    expect(lines).toEqual([
      'reconnecting: attempt 1 of 3 in 0.25 s',
      'reconnect attempt 1 failed: FATAL: database "shop" does not exist (SQLSTATE 3D000)',
      'the database does not exist: every attempt will fail this way until it is created again; pglisten will try 2 more times',
      'reconnecting: attempt 2 of 3 in 0.25 s',
      'reconnecting: attempt 3 of 3 in 0.25 s (attempt 2 failed the same way)',
      'gave up after 3 attempts to reconnect (attempt 3 failed the same way)',
    ])
  })

  test('the last attempt failing differently is printed before giving up; no plan is promised after the last', () => {
    const { lines, next, report } = reporting()
    next(1, 1)
    report.failed(badPassword())
    report.gaveUp(new ListenerError('gave up after 1 attempt to reconnect'))
    expect(lines.slice(1)).toEqual([
      'reconnect attempt 1 failed: FATAL: password authentication failed for user "app" (SQLSTATE 28P01)',
      'the server refused the password: every attempt will fail this way until it changes, on the server or in a password file (read again at each attempt)',
      'gave up after 1 attempt to reconnect',
    ])
  })

  test('connected again: the next loss starts afresh, so its failure is printed even if it is the same', () => {
    const { lines, next, report } = reporting()
    next(1)
    report.failed(refused())
    report.connected()
    next(1)
    report.failed(refused())
    expect(lines.filter((line) => line.startsWith('reconnect attempt 1 failed'))).toHaveLength(2)
  })
})

describe('what "failed the same way" refers to', () => {
  // The listener reports an attempt's failure before the next 'reconnecting'; these are the
  // sequences where none was reported, and no line may then claim one.
  test('giving up before any failure was reported says nothing of one', () => {
    const { lines, next, report } = reporting()
    next(1, 1)
    report.gaveUp(new ListenerError('gave up after 1 attempt to reconnect'))
    expect(lines).toEqual(['reconnecting: attempt 1 of 1 in 0.25 s', 'gave up after 1 attempt to reconnect'])
  })

  test('"the same way" is said once, of the attempt that failed, not of the next one too', () => {
    const { lines, next, report } = reporting()
    next(1, 3)
    report.failed(refused())
    next(2, 3)
    report.failed(refused())
    next(3, 3)
    report.gaveUp(new ListenerError('gave up after 3 attempts to reconnect'))
    expect(lines.slice(2)).toEqual(['reconnecting: attempt 2 of 3 in 0.25 s', 'reconnecting: attempt 3 of 3 in 0.25 s (attempt 2 failed the same way)', 'gave up after 3 attempts to reconnect'])
  })

  test('after connecting again, a failure before the loss is not "the same way" of the next attempt', () => {
    const { lines, next, report } = reporting()
    next(1)
    report.failed(refused())
    next(2)
    report.failed(refused())
    report.connected()
    next(1, 1)
    report.gaveUp(new ListenerError('gave up after 1 attempt to reconnect'))
    expect(lines.slice(-2)).toEqual(['reconnecting: attempt 1 of 1 in 0.25 s', 'gave up after 1 attempt to reconnect'])
  })

  test('a failure before any attempt was announced names no attempt', () => {
    const { lines, report } = reporting()
    report.failed(refused())
    expect(lines).toEqual(['reconnect attempt ? failed: cannot connect to db:5432: connect ECONNREFUSED'])
  })

  test('one attempt left is "1 more time"', () => {
    const { lines, next, report } = reporting()
    next(1, 2)
    report.failed(badPassword())
    expect(lines[2]).toMatch(/; pglisten will try 1 more time$/)
  })
})

describe('incurable: failures only a person can cure', () => {
  test.each([
    ['28P01 a refused password', badPassword(), 'the server refused the password'],
    ['28000 no pg_hba.conf entry, or no such role', fatal('28000', 'role "app" does not exist'), 'the server does not let this user in'],
    ['3D000 a database that is gone', fatal('3D000', 'database "shop" does not exist'), 'the database does not exist'],
    ['42501 CONNECT revoked', fatal('42501', 'permission denied for database "shop"'), 'the user may not connect to this database'],
    ['no password to give', new PasswordRequiredError('the server asks for a password (AuthenticationSASL) and none was given'), 'the server wants a password and none is given (pglisten cannot ask for one while it reconnects)'],
    ['an authentication pglisten refuses', new AuthenticationRefusedError('the server asked for cleartext, and require_auth=scram-sha-256'), "pglisten refused the server's authentication"],
  ])('%s', (_, error, why) => {
    expect(incurable(error)?.why).toBe(why)
  })

  test('each says what must change before an attempt can succeed', () => {
    expect(incurable(new PasswordRequiredError('no password'))?.until).toBe('a password file gives one (it is read at each attempt)')
    expect(incurable(new AuthenticationRefusedError('cleartext refused'))?.until).toBe('the server or the connection settings change')
    expect(incurable(badPassword())?.until).toBe('it changes, on the server or in a password file (read again at each attempt)')
    expect(incurable(fatal('28000', 'role "app" does not exist'))?.until).toBe("the server's pg_hba.conf or the role changes")
    expect(incurable(fatal('3D000', 'database "shop" does not exist'))?.until).toBe('it is created again')
    expect(incurable(fatal('42501', 'permission denied for database "shop"'))?.until).toBe('it is granted CONNECT')
  })

  test('a SQLSTATE is read only from the server\'s ErrorResponse: another error with such a code may pass by itself', () => {
    expect(incurable(Object.assign(new Error('not from the server'), { code: '28P01' }))).toBeUndefined()
  })

  test.each([
    ['a refused connection', refused()],
    ['a server starting up', fatal('57P03', 'the database system is starting up')],
    ['too many connections', fatal('53300', 'sorry, too many clients already')],
    ['an attempt that timed out', new ConnectionLostError('the attempt did not finish within 10000 ms')],
  ])('%s may pass by itself', (_, error) => {
    expect(incurable(error)).toBeUndefined()
  })
})

test('waits: two significant digits under 10 s, whole seconds above', () => {
  expect([26, 190, 1_234, 9_940, 12_400, 30_000, 123_400].map(seconds)).toEqual(['0.026 s', '0.19 s', '1.2 s', '9.9 s', '12 s', '30 s', '123 s'])
})
