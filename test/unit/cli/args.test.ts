/**
 * The command line, read as psql users expect: where the connection string is, which setting
 * wins, what each command takes, and how a mistake is reported (a UsageError naming the
 * command, for its --help hint).
 */
import { describe, expect, test } from 'vitest'
import { commandNames, parseCommandLine, type ListenCommand, type NotifyCommand } from '../../../src/cli/args.ts'
import type { BenchCommand } from '../../../src/cli/bench/args.ts'
import { connectOptionsFrom } from '../../../src/cli/connection-args.ts'
import { usage } from '../../../src/cli/usage.ts'
import { usageError } from '../../support/usage-error.ts'

const listen = (...argv: string[]) => parseCommandLine(['listen', ...argv]) as ListenCommand
const notify = (...argv: string[]) => parseCommandLine(['notify', ...argv]) as NotifyCommand
const bench = (...argv: string[]) => parseCommandLine(['bench', ...argv]) as BenchCommand


describe('where the connection string is', () => {
  test.each([
    ['a postgres:// URL', 'postgres://app@db/shop'],
    ['a postgresql:// URL', 'postgresql://db:5433/shop?sslmode=require'],
    ['keyword=value settings', 'host=db dbname=shop'],
  ])('the first argument, when it is %s', (_, conninfo) => {
    const command = listen(conninfo, 'jobs', 'orders')
    expect(command.connection.conninfo).toBe(conninfo)
    expect(command.channels).toEqual(['jobs', 'orders'])
  })

  test('a first argument that is neither is a channel', () => {
    const command = listen('jobs', 'a=b')
    expect(command.connection.conninfo).toBeUndefined()
    expect(command.channels).toEqual(['jobs', 'a=b'])
  })

  test('-d with a connection string: it is the connection string, and every argument is a channel', () => {
    const command = listen('-d', 'postgresql://db/shop', 'a=b')
    expect(command.connection).toMatchObject({ conninfo: 'postgresql://db/shop' })
    expect(command.channels).toEqual(['a=b'])
  })

  test('-d with a plain name: the database, and still every argument is a channel', () => {
    const command = listen('-d', 'shop', 'a=b')
    expect(command.connection).toMatchObject({ database: 'shop' })
    expect(command.connection.conninfo).toBeUndefined()
    expect(command.channels).toEqual(['a=b'])
  })

  test('a malformed connection string is a usage error, its value never quoted (it may hold a password)', () => {
    expect(usageError(['notify', 'password=hunter2 xyzzy host=db', 'jobs'])).toEqual({ message: expect.not.stringMatching(/hunter2|xyzzy/), command: 'notify' })
  })
})

describe('which setting wins: psql\'s order', () => {
  test('-h, -p, -U and -d give way to what the connection string sets', () => {
    const { connection } = notify('-h', 'flag-host', '-p', '5433', '-U', 'flag-user', 'host=string-host user=string-user', 'jobs')
    const options = connectOptionsFrom(connection)
    expect(options).toEqual({ fallbackApplicationName: 'pglisten notify', connectionString: 'host=string-host user=string-user', port: '5433' })
  })

  test('an empty value in the connection string counts as set, as in libpq', () => {
    const { connection } = notify('-h', 'flag-host', "host='' dbname=shop", 'jobs')
    expect(connectOptionsFrom(connection).host).toBeUndefined()
  })

  test('without a connection string, the flags are the options', () => {
    const { connection } = notify('--host=db', '--port=5433', '--username=app', '--dbname=shop', 'jobs')
    expect(connectOptionsFrom(connection)).toEqual({ fallbackApplicationName: 'pglisten notify', host: 'db', port: '5433', user: 'app', database: 'shop' })
  })

  test('--connect-timeout wins over the connection string\'s connect_timeout (pg_isready\'s -t is passed after dbname)', () => {
    const { connection } = listen('--connect-timeout', '3', 'host=db connect_timeout=30', 'jobs')
    expect(connectOptionsFrom(connection)).toMatchObject({ connectionString: 'host=db connect_timeout=30', connectTimeout: 3 })
    expect(connectOptionsFrom(listen('--connect-timeout=0', 'jobs').connection).connectTimeout).toBe(0) // libpq: wait forever
    expect(connectOptionsFrom(listen('jobs').connection)).not.toHaveProperty('connectTimeout')
  })

  test('each command has its own fallback application name', () => {
    expect(connectOptionsFrom(listen('jobs').connection).fallbackApplicationName).toBe('pglisten listen')
    expect(connectOptionsFrom(notify('jobs').connection).fallbackApplicationName).toBe('pglisten notify')
    expect(connectOptionsFrom(bench().connection).fallbackApplicationName).toBe('pglisten bench')
  })

  test('a password typed at the prompt wins over every other source', () => {
    const { connection } = notify('postgresql://app:in-url@db/shop', 'jobs')
    expect(connectOptionsFrom(connection, 'typed')).toMatchObject({ connectionString: 'postgresql://app:in-url@db/shop', password: 'typed' })
  })

  test.each([
    [[], 'when-needed'],
    [['-w'], 'never'],
    [['--no-password'], 'never'],
    [['-W'], 'prompt'],
  ])('password flags %j: %s', (flags, mode) => {
    expect(notify(...flags, 'jobs').connection.password).toBe(mode)
  })
})

describe('listen and notify', () => {
  test('listen: channels exactly as given, each once; --json-payload, --gaps, --trace', () => {
    expect(listen('--json-payload', '--gaps', '--trace', 'Jobs', 'jobs', 'Jobs')).toMatchObject({
      name: 'listen',
      channels: ['Jobs', 'jobs'],
      jsonPayload: true,
      gaps: true,
      connection: { trace: true },
    })
  })

  test('notify: a channel and an optional payload; "--" lets a payload start with a dash', () => {
    expect(notify('jobs')).toMatchObject({ channel: 'jobs', payload: undefined })
    expect(notify('jobs', '--', '-1')).toMatchObject({ channel: 'jobs', payload: '-1' })
    expect(notify('jobs', '')).toMatchObject({ payload: '' })
  })

  test.each([
    [['listen'], 'no channel given: pglisten listen [OPTION]... CHANNEL...', 'listen'],
    [['listen', 'postgresql://db/shop'], 'no channel given: pglisten listen [OPTION]... CHANNEL...', 'listen'],
    [['listen', ''], 'a channel name must not be empty', 'listen'],
    [['notify'], 'no channel given: pglisten notify [OPTION]... CHANNEL [PAYLOAD]', 'notify'],
    [['notify', 'jobs', 'two', 'words'], 'too many arguments: a channel and at most one payload, not 3 words (quote the payload)', 'notify'],
    [['notify', '-x', 'jobs'], "unknown option '-x'", 'notify'],
    [['listen', '--trace=yes', 'jobs'], "option '--trace' does not take an argument", 'listen'],
    [['listen', '-W', '-w', 'jobs'], '-W (--password) and -w (--no-password) contradict each other', 'listen'],
    [['lisen', 'jobs'], 'there is no command "lisen"', undefined],
    [['--host', 'db', 'listen'], 'unknown option --host before the command', undefined],
    [['help', 'nothing'], 'there is no command "nothing"', undefined],
    // As every command refuses a word it does not take (--help still wins over any, as a command's does).
    [['help', 'listen', 'extra'], 'unexpected argument "extra": help takes at most one command name', undefined],
    // --version is looked for before parseArgs runs; given a value, it is refused as --trace=yes is.
    [['--version=1'], "option '-V, --version' does not take an argument", undefined],
    [['--help=1'], "option '-?, --help' does not take an argument", undefined],
    [['listen', '--version=1', 'jobs'], "option '-V, --version' does not take an argument", 'listen'],
    // The short names given a value: said as the long ones are, not "unknown option '-V'".
    [['-V=1'], "option '-V, --version' does not take an argument", undefined],
    [['-?=1'], "option '-?, --help' does not take an argument", undefined],
    [['listen', '-V=1', 'jobs'], "option '-V, --version' does not take an argument", 'listen'],
    [['notify', 'jobs', '-?=1'], "option '-?, --help' does not take an argument", 'notify'],
    [['bench', '-?=yes'], "option '-?, --help' does not take an argument", 'bench'],
    [['listen', '-w=1', 'jobs'], "option '-w, --no-password' does not take an argument", 'listen'],
    // help is a command as the others are: its options are refused as theirs are, its hint its own --help.
    [['help', '--help=1'], "option '-?, --help' does not take an argument", 'help'],
    [['help', '-V=1'], "option '-V, --version' does not take an argument", 'help'],
    [['help', '-x'], "unknown option '-x'", 'help'],
    [['help', 'listen', '--json'], "unknown option '--json'", 'help'],
    // A dash and a digit is none of pglisten's options: a number meant as an argument, so the hint.
    [['notify', 'jobs', '-1'], 'unknown option \'-1\'; to give an argument that starts with "-", write it after "--", as in -- -1', 'notify'],
    [['listen', 'jobs', '-1.5'], 'unknown option \'-1.5\'; to give an argument that starts with "-", write it after "--", as in -- -1.5', 'listen'],
    [['notify', 'jobs', '-.5'], 'unknown option \'-.5\'; to give an argument that starts with "-", write it after "--", as in -- -.5', 'notify'],
  ])('%j is refused: %s', (argv, message, command) => {
    expect(usageError(argv)).toEqual({ message, command })
  })

  test('listen: --reconnect-delay and --max-attempts in the listener\'s terms (ms); only what is given', () => {
    expect(listen('jobs')).toMatchObject({ reconnect: {}, heartbeat: undefined })
    expect(listen('--reconnect-delay', '0.5,10', '--max-attempts', '7', 'jobs').reconnect).toEqual({ minDelay: 500, maxDelay: 10_000, maxAttempts: 7 })
    // MIN alone: the listener's maximum (30 s), or MIN if longer.
    expect(listen('--reconnect-delay=2', 'jobs').reconnect).toEqual({ minDelay: 2_000, maxDelay: 30_000 })
    expect(listen('--reconnect-delay=45', 'jobs').reconnect).toEqual({ minDelay: 45_000, maxDelay: 45_000 })
    expect(listen('--reconnect-delay=.25,.25', 'jobs').reconnect).toEqual({ minDelay: 250, maxDelay: 250 })
  })

  test('listen: --heartbeat SECONDS is the interval; 0 is none', () => {
    expect(listen('--heartbeat', '2.5', 'jobs').heartbeat).toEqual({ interval: 2_500 })
    expect(listen('--heartbeat', '0', 'jobs').heartbeat).toBe(false)
  })

  test.each([
    [['--max-attempts', '0'], `--max-attempts takes a whole number from 1 to ${Number.MAX_SAFE_INTEGER}, not "0"`],
    [['--max-attempts', '2.5'], `--max-attempts takes a whole number from 1 to ${Number.MAX_SAFE_INTEGER}, not "2.5"`],
    [['--reconnect-delay', '1,2,3'], '--reconnect-delay takes MIN or MIN,MAX in seconds, not "1,2,3"'],
    [['--reconnect-delay', '2,1'], '--reconnect-delay takes MIN,MAX with MIN no longer than MAX, not "2,1"'],
    [['--reconnect-delay', '1,'], '--reconnect-delay takes a number of seconds from 0.001 to 86400, not ""'],
    [['--reconnect-delay', '0.0001'], '--reconnect-delay takes a number of seconds from 0.001 to 86400, not "0.0001"'],
    [['--reconnect-delay', '1e3'], '--reconnect-delay takes a number of seconds from 0.001 to 86400, not "1e3"'],
    [['--reconnect-delay', '86401'], '--reconnect-delay takes a number of seconds from 0.001 to 86400, not "86401"'],
    [['--heartbeat', 'off'], '--heartbeat takes a number of seconds from 0.001 to 86400, or 0 for none, not "off"'],
    [['--heartbeat', '-1'], '--heartbeat takes a number of seconds from 0.001 to 86400, or 0 for none, not "-1"'],
    [['--connect-timeout', '-1'], '--connect-timeout takes a whole number of seconds from 0 (wait forever) to 86400, not "-1"'],
    [['--connect-timeout', '2.5'], '--connect-timeout takes a whole number of seconds from 0 (wait forever) to 86400, not "2.5"'],
  ])('listen %j is refused: %s', (argv, message) => {
    expect(usageError(['listen', ...argv, 'jobs'])).toEqual({ message, command: 'listen' })
  })

  test('a value that starts with "-": a negative number is the value (for the option\'s own check), anything else is refused', () => {
    expect(usageError(['bench', '--count', '-5'])).toEqual({ message: `--count takes a whole number from 1 to ${Number.MAX_SAFE_INTEGER}, not "-5"`, command: 'bench' })
    expect(listen('-p', '-1', 'jobs').connection.port).toBe('-1') // connect() then refuses it, as libpq does
    expect(usageError(['listen', '-h', '--json-payload', 'jobs'])).toEqual({
      message: '-h needs a value, and "--json-payload" is not one; to give a value that starts with "-", write --host=--json-payload',
      command: 'listen',
    })
    expect(listen('--host=-odd', 'jobs').connection.host).toBe('-odd')
    expect(notify('jobs', '--', '-5')).toMatchObject({ payload: '-5' }) // after "--", a word is a word
  })

  test('a URL with its colon or a slash missing is a malformed connection string, its rest never quoted', () => {
    for (const [argv, scheme] of [
      [['notify', 'postgres//app:hunter2@db/shop', 'jobs', 'x'], 'postgres//'],
      [['notify', 'postgresql:/db/shop?sslmode=require', 'jobs'], 'postgresql:/'],
      [['listen', 'postgres:db', 'jobs'], 'postgres:'],
      [['listen', '-d', 'postgres//db/shop', 'jobs'], 'postgres//'],
    ] as const) {
      expect(usageError([...argv])).toEqual({ message: `invalid connection string: it begins "${scheme}", and a URL begins "postgresql://" or "postgres://"`, command: argv[0] })
    }
    // With -d, a word after it is a channel, whatever it looks like.
    expect(listen('-d', 'shop', 'postgres//not a url').channels).toEqual(['postgres//not a url'])
  })

  test('--version and -V: before or after a command, but not after "--"', () => {
    for (const argv of [['--version'], ['-V'], ['listen', '--version'], ['notify', 'jobs', '-V'], ['bench', '--count', '3', '--version']]) {
      expect(parseCommandLine(argv)).toEqual({ name: 'version' })
    }
    expect(notify('jobs', '--', '--version')).toMatchObject({ name: 'notify', payload: '--version' })
  })

  test('--help and help: for pglisten and for each command, whatever else is on the line', () => {
    expect(parseCommandLine(['--help'])).toEqual({ name: 'help', command: undefined })
    expect(parseCommandLine(['help', 'notify'])).toEqual({ name: 'help', command: 'notify' })
    expect(parseCommandLine(['listen', '--help'])).toEqual({ name: 'help', command: 'listen' })
    expect(parseCommandLine(['bench', '--count', '3', '--help'])).toEqual({ name: 'help', command: 'bench' })
    // -? as psql takes it: after a command as before one.
    expect(parseCommandLine(['-?'])).toEqual({ name: 'help', command: undefined })
    for (const command of commandNames) expect(parseCommandLine([command, '-?'])).toEqual({ name: 'help', command })
    expect(notify('jobs', '--', '-?')).toMatchObject({ name: 'notify', payload: '-?' })
    expect(parseCommandLine(['--version'])).toEqual({ name: 'version' })
  })

  test('help --help: the help of help, as listen --help is listen\'s (and `git help --help` git-help\'s)', () => {
    for (const argv of [['help', '--help'], ['help', '-?'], ['help', 'help'], ['help', 'listen', '--help'], ['help', '--', 'help']]) {
      expect(parseCommandLine(argv), JSON.stringify(argv)).toEqual({ name: 'help', command: 'help' })
    }
    expect(parseCommandLine(['help', '--', 'listen'])).toEqual({ name: 'help', command: 'listen' })
    expect(parseCommandLine(['help', '-V'])).toEqual({ name: 'version' }) // -V after a command too
    const text = usage('help')
    expect(text.split('\n')[0]).toBe('pglisten help: show the help of pglisten or of one of its commands.')
    expect(text).toContain('  pglisten help [COMMAND]\n')
    expect(text).toContain('  -?, --help   show this help, then exit\n')
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80)
  })
})

test('no command: the error names every command there is', () => {
  const { message } = usageError([])
  for (const name of commandNames) expect(message).toContain(name)
  expect(message).toBe('no command given: listen, replicate, notify or bench')
})

describe('a password on the command line is never quoted back', () => {
  // An obviously fake password: the point is only that it never appears in a message.
  const url = 'postgresql://app:hunter2-test@db.example.com/shop'
  const longUrl = `${url}?sslmode=require&application_name=longer-than-a-channel-name-may-be`
  const notAChannel = `"postgresql://..." is a connection string, not a channel name: give it once, as the first argument or as -d's value`
  test.each([
    ['replicate: a second connection string, after -d', ['replicate', '-d', 'postgres', url, '--slot', 's', '--publication', 'p'], 'unexpected argument "postgresql://...": replicate takes options and a connection string only', 'replicate'],
    ['bench: a second connection string, after -d', ['bench', '-d', 'postgres', url], 'unexpected argument "postgresql://...": bench takes options and a connection string only', 'bench'],
    ['bench: a second one of keyword=value settings', ['bench', 'host=db', 'user=app password=hunter2-test'], 'unexpected argument "user=...": bench takes options and a connection string only', 'bench'],
    ['listen: a URL after -d, where the channels are', ['listen', '-d', 'postgres', url], notAChannel, 'listen'],
    ['listen: a URL longer than a channel name may be', ['listen', '-d', 'postgres', longUrl], notAChannel, 'listen'],
    ['listen: a URL after the first channel', ['listen', 'jobs', url], notAChannel, 'listen'],
    ['notify: a URL where the channel is', ['notify', 'host=db', url, 'payload'], notAChannel, 'notify'],
    ['-h given a URL', ['listen', '-h', url, 'jobs'], `--host takes no connection string, and "postgresql://..." is one: give it as the first argument, or as -d's value`, 'listen'],
    ['a URL where the command goes', [url, 'listen', 'jobs'], 'there is no command "postgresql://..."', undefined],
    ['a URL as an option\'s number', ['listen', '--connect-timeout', url, 'jobs'], '--connect-timeout takes a whole number of seconds from 0 (wait forever) to 86400, not "postgresql://..."', 'listen'],
    // Found by the review of the CLI's argument parsing: node:util's parseArgs quotes an unknown option whole.
    ['a URL typed after "--", as an option', ['notify', 'jobs', `--${url}`], "unknown option '--postgresql://...'", 'notify'],
    ['user:password@ typed after "--", as an option', ['listen', '--app:hunter2-test@db', 'jobs'], "unknown option '--...' (the rest is not shown: it may hold a password)", 'listen'],
    ['a URL typed after "--", before the command', [`--${url}`, 'listen', 'jobs'], "unknown option '--postgresql://...' before the command", undefined],
    ['a URL typed after "-", before the command', [`-${url}`, 'listen', 'jobs'], 'unknown option -p before the command', undefined],
  ])('%s', (_, argv, message, command) => {
    expect(usageError(argv)).toEqual({ message, command })
  })

  test('a channel name that only begins as a URL would is still a channel', () => {
    expect(listen('-d', 'shop', 'postgres:events', 'postgresql/jobs').channels).toEqual(['postgres:events', 'postgresql/jobs'])
    expect(listen('-d', 'shop', 'a=b', 'https://example.com/hook', 'why: not@all', 'mail:alice@example.com').channels).toEqual(['a=b', 'https://example.com/hook', 'why: not@all', 'mail:alice@example.com'])
  })

  // Found by the review of the first fix: each of these still printed the password.
  const sqlalchemy = 'postgresql+psycopg2://app:hunter2-test@db/shop?sslmode=require'
  test.each([
    ['an unknown option before the command, with a URL as its value', ['--dbname=postgresql://app:hunter2-test@db/shop', 'listen', 'jobs']],
    ['-d glued to its URL before the command', ['-dpostgresql://app:hunter2-test@db/shop', 'listen', 'jobs']],
    ["an option's value forgotten, the next option's taken for it", ['listen', '--host', '--dbname=postgresql://app:hunter2-test@db/shop', 'jobs']],
    ['a URL of another scheme, as SQLAlchemy writes it, after -d', ['bench', '-d', 'shop', sqlalchemy]],
    ['a URL of another scheme where the command goes', [sqlalchemy, 'listen']],
    ['a URL of another scheme as a number', ['listen', '--connect-timeout', sqlalchemy, 'jobs']],
    ['a URL after a space', ['bench', '-d', 'shop', ' postgresql://app:hunter2-test@db/shop']],
    ['a URL of another scheme as the connection string (the parser refuses it)', ['listen', sqlalchemy, 'jobs']],
    ['a URL of another scheme, with no "=", where the channels are', ['listen', '-d', 'postgres', 'postgresql+asyncpg://app:hunter2-test@db/shop']],
    ['keyword=value settings where the channels are', ['listen', '-d', 'postgres', 'host=db password=hunter2-test']],
    ['keyword=value settings longer than a channel name may be', ['listen', '-d', 'shop', 'password=hunter2-test host=db.example.com dbname=shop sslmode=require']],
    ['-h given a URL mistyped', ['listen', '-h', 'postgresql:/app:hunter2-test@db', 'jobs']],
    ['-h given keyword=value settings', ['listen', '-h', 'host=db password=hunter2-test', 'jobs']],
    // Found by the review of the second fix: taken for a database name or a slot name.
    ['-d given a URL of another scheme', ['listen', '-d', 'postgresql+psycopg2://app:hunter2-test@db/shop', 'jobs']],
    ['-d given user:password@host with no scheme', ['notify', '-d', 'app:hunter2-test@db/shop', 'jobs']],
    ['-d given a URL after a space', ['listen', '-d', ' postgresql://app:hunter2-test@db/shop', 'jobs']],
    ['-d given a URL in literal quotes', ['listen', '-d', '"postgresql://app:hunter2-test@db/shop"', 'jobs']],
    ['--slot given a URL', ['replicate', '--slot', 'postgresql://app:hunter2-test@db/shop', '--publication', 'p']],
    ['--publication given keyword=value settings', ['replicate', '-d', 'shop', '--slot', 's', '--publication', 'host=db password=hunter2-test']],
  ])('%s: refused, the password not shown', (_, argv) => {
    expect(usageError(argv).message).not.toMatch(/hunter2/)
  })
})

describe('bench', () => {
  test('defaults: 1 listener, 1 notifier, 16 and 1000 bytes, 5 s each after 1000 to warm up', () => {
    expect(bench()).toMatchObject({ listeners: 1, notifiers: 1, payloads: [16, 1000], amount: { seconds: 5 }, warmup: 1000, json: false })
  })

  test('every option', () => {
    expect(bench('--listeners', '4', '--notifiers=8', '--payload', '16,100,100,7999', '--count', '5000', '--warmup', '0', '--json', 'host=db')).toMatchObject({
      listeners: 4,
      notifiers: 8,
      payloads: [16, 100, 7999],
      amount: { count: 5000 },
      warmup: 0,
      json: true,
      connection: { conninfo: 'host=db' },
    })
    expect(bench('--duration', '0.5').amount).toEqual({ seconds: 0.5 })
  })

  test.each([
    [['--payload', '15'], '--payload takes a whole number from 16 to 7999 (each payload carries its 16-digit send time; PostgreSQL takes under 8000 bytes), not "15"'],
    [['--payload', '8000'], '--payload takes a whole number from 16 to 7999 (each payload carries its 16-digit send time; PostgreSQL takes under 8000 bytes), not "8000"'],
    [['--payload', '16,'], '--payload takes a whole number from 16 to 7999 (each payload carries its 16-digit send time; PostgreSQL takes under 8000 bytes), not ""'],
    [['--listeners', '1.5'], '--listeners takes a whole number from 1 to 256, not "1.5"'],
    [['--notifiers', '257'], '--notifiers takes a whole number from 1 to 256, not "257"'],
    [['--count', '0'], `--count takes a whole number from 1 to ${Number.MAX_SAFE_INTEGER}, not "0"`],
    [['--duration', '0'], '--duration takes a number of seconds above 0, not "0"'],
    [['--duration', '1e3'], '--duration takes a number of seconds above 0, not "1e3"'],
    // Over the bound, the error names the bound: "above 0" alone would say 86401 is fine.
    [['--duration', '86401'], '--duration takes a number of seconds up to 86400, not "86401"'],
    [['--progress-interval', '100000'], '--progress-interval takes a number of seconds up to 86400, not "100000"'],
    [['--count', '5', '--duration', '1'], '--count and --duration exclude each other'],
    [['jobs'], 'unexpected argument "jobs": bench takes options and a connection string only'],
  ])('%j is refused', (argv, message) => {
    expect(usageError(['bench', ...argv])).toEqual({ message, command: 'bench' })
  })
})
