/**
 * `--trace` on the command: every protocol message, one line each on stderr, in PQtrace's
 * layout with timestamps, and never the password, not even when the password travels in
 * the clear (the `password` method) or in the connection string.
 */
import { beforeAll, describe, expect, test } from 'vitest'
import { server } from '../support/connect.ts'
import { ensureBuilt, runCli, startCli, superuserArgs } from '../support/cli.ts'
import { uniqueChannel } from '../support/listener.ts'

beforeAll(ensureBuilt, 120_000)

const pg = server()
const users = pg.users

/** The message name of a trace line: "<time>\t<F|B>\t<length>\t<name>[\t fields]". */
const traced = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\t[FB]\t\d+\t[A-Za-z]+(\t .*)?$/
const names = (stderr: string) => stderr.split('\n').filter((line) => traced.test(line)).map((line) => `${line.split('\t')[1]} ${line.split('\t')[3]}`)

describe.skipIf(!users)('pglisten --trace', () => {
  test.each([
    ['SCRAM-SHA-256', () => users!.scram, ['F SASLInitialResponse', 'B AuthenticationSASLContinue', 'F SASLResponse', 'B AuthenticationSASLFinal']],
    ['a cleartext password', () => users!.password, ['B AuthenticationCleartextPassword', 'F PasswordMessage']],
  ] as const)('notify, authenticating with %s: the exchange, the query, no password', async (_, user, exchange) => {
    const { user: name, password } = user()
    const url = `postgresql://${encodeURIComponent(name)}:${encodeURIComponent(password!)}@${pg.host}:${pg.port}/${encodeURIComponent(pg.database)}`
    const result = await runCli(['notify', '--trace', url, 'trace channel', 'traced payload'])
    expect(result.status).toBe(0)
    const lines = result.stderr.trimEnd().split('\n')
    for (const line of lines) expect(line).toMatch(traced) // nothing but trace lines
    expect(names(result.stderr)).toEqual(expect.arrayContaining(['F StartupMessage', ...exchange, 'B AuthenticationOk', 'F Query', 'B ReadyForQuery', 'F Terminate']))
    expect(result.stderr).toContain(`Query\t "SELECT pg_catalog.pg_notify('trace channel', 'traced payload')"`)
    expect(result.stderr).toContain('[redacted]')
    expect(result.stderr).not.toContain(password!)
    expect(result.stderr).not.toContain(encodeURIComponent(password!))
  })

  test.skipIf(!pg.tls)("notify over TLS: the SSLRequest and the server's one-byte answer come first, as libpq traces them", async () => {
    const { args, env } = superuserArgs()
    const result = await runCli(['notify', '--trace', ...args, 'trace channel', 'over TLS'], { env: { ...env, PGSSLMODE: 'require' } })
    expect(result.status).toBe(0)
    for (const line of result.stderr.trimEnd().split('\n')) expect(line).toMatch(traced)
    expect(names(result.stderr).slice(0, 3)).toEqual(['F SSLRequest', 'B SSLResponse', 'F StartupMessage'])
    expect(result.stderr).toMatch(/^\S+ \S+\tF\t8\tSSLRequest\t 1234 5679\n\S+ \S+\tB\t1\tSSLResponse\t S\n/)
  })

  test.skipIf(!pg.tls)('a connection that fails in TLS negotiation: what was exchanged is traced, then the one error line', async () => {
    // verify-full against a name the certificate does not carry; hostaddr still reaches the server.
    const { env } = superuserArgs()
    const args = ['-h', 'wrong-name.invalid', '-p', String(pg.port), '-U', pg.superuser.user, '-d', pg.database]
    const result = await runCli(['notify', '--trace', ...args, 'trace channel', 'never sent'], {
      env: { ...env, PGSSLMODE: 'verify-full', PGSSLROOTCERT: pg.tls!.caFile, PGHOSTADDR: '127.0.0.1' },
    })
    expect(result.status).toBe(1)
    const lines = result.stderr.trimEnd().split('\n')
    expect(lines.slice(0, -1).map((line) => line.split('\t').slice(1).join('\t'))).toEqual(['F\t8\tSSLRequest\t 1234 5679', 'B\t1\tSSLResponse\t S'])
    // libpq's words for it (certificate-name.ts): the certificate's names, and the host asked for.
    expect(lines.at(-1)).toBe('pglisten: server certificate for "localhost" (and 2 other names) does not match host name "wrong-name.invalid"')
  })

  test('listen: LISTEN goes out and the notification comes back, between the status lines', async () => {
    const channel = uniqueChannel('cli trace')
    const { args, env } = superuserArgs()
    const cli = startCli(['listen', '--trace', ...args, channel], { env })
    try {
      await cli.stderrLine(/^pglisten: listening on /)
      const notifier = await runCli(['notify', ...args, channel, 'over the wire'], { env })
      expect(notifier.status).toBe(0)
      await cli.stdoutLines(1)
      await cli.stderrLine(/\tNotificationResponse\t/)
      const trace = cli.stderr.join('\n')
      // Strings appear as JSON string literals, so the quotes of the identifier are escaped.
      expect(trace).toContain(`\tQuery\t ${JSON.stringify(`LISTEN "${channel}"`)}`)
      expect(trace).toMatch(new RegExp(`\\tB\\t\\d+\\tNotificationResponse\\t \\d+ "${channel}" "over the wire"`))
      // Status lines stay whole among the trace lines.
      for (const line of cli.stderr) expect(line).toMatch(/^pglisten: |^\d{4}-/)
    } finally {
      cli.child.kill('SIGTERM')
      expect((await cli.exited).status).toBe(0)
    }
  })
})
