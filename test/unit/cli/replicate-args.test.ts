/**
 * `pglisten replicate`'s command line: every option in the stream's terms, the connection
 * options as every command takes them, and each mistake a UsageError naming the command.
 */
import { describe, expect, test } from 'vitest'
import { parseCommandLine, type ReplicateCommand } from '../../../src/cli/args.ts'
import { connectOptionsFrom } from '../../../src/cli/connection-args.ts'
import { usageError } from '../../support/usage-error.ts'
import { usage } from '../../../src/cli/usage.ts'

const replicate = (...argv: string[]) => parseCommandLine(['replicate', ...argv]) as ReplicateCommand
const required = ['--slot', 'orders_slot', '--publication', 'orders']


describe('pglisten replicate', () => {
  test('--slot and --publication alone: no slot made, from the slot\'s position, no messages, the default backoff', () => {
    expect(replicate(...required)).toEqual({
      name: 'replicate',
      connection: { password: 'when-needed', applicationName: 'pglisten replicate', trace: false },
      slot: 'orders_slot',
      publications: ['orders'],
      create: false,
      temporary: false,
      start: undefined,
      messages: false,
      reconnect: {},
    })
  })

  test('every option', () => {
    const command = replicate(
      'postgresql://db/shop', '--slot=orders_slot', '--publication', 'orders', '--publication=Billing',
      '--create', '--temporary', '--start', '16/B374D848', '--messages',
      '--reconnect-delay', '0.5,10', '--max-attempts', '7', '--trace', '-w', '--connect-timeout', '3',
    )
    expect(command).toEqual({
      name: 'replicate',
      connection: { conninfo: 'postgresql://db/shop', password: 'never', applicationName: 'pglisten replicate', trace: true, connectTimeout: 3 },
      slot: 'orders_slot',
      publications: ['orders', 'Billing'],
      create: true,
      temporary: true,
      start: 0x16_b374d848n,
      messages: true,
      reconnect: { minDelay: 500, maxDelay: 10_000, maxAttempts: 7 },
    })
  })

  test('publications each once, in the order given, names exactly as given', () => {
    expect(replicate('--slot=s', '--publication=b', '--publication=a', '--publication=b', '--publication=A b').publications).toEqual(['b', 'a', 'A b'])
    expect(replicate('--slot=s', `--publication=${'é'.repeat(31)}p`).publications).toEqual([`${'é'.repeat(31)}p`]) // 63 bytes: the longest the server keeps
  })

  test('--start: the LSN as the server prints it, either case; 0/0 is the slot\'s own position', () => {
    expect(replicate(...required, '--start=0/1764378').start).toBe(0x1764378n)
    expect(replicate(...required, '--start=ffffffff/ffffffff').start).toBe(0xffff_ffff_ffff_ffffn)
    expect(replicate(...required, '--start', '0/0').start).toBe(0n)
  })

  test('the connection options as psql\'s: -h -p -U -d, and the application name says which command', () => {
    const { connection } = replicate('-h', 'db', '-p', '5433', '-U', 'repl', '-d', 'shop', ...required)
    expect(connectOptionsFrom(connection)).toEqual({ fallbackApplicationName: 'pglisten replicate', host: 'db', port: '5433', user: 'repl', database: 'shop' })
  })

  test.each([
    [['--publication=p'], 'no slot given: pglisten replicate [OPTION]... --slot=NAME --publication=NAME...'],
    [['--slot=s'], 'no publication given: pglisten replicate [OPTION]... --slot=NAME --publication=NAME...'],
    [[], 'no slot given: pglisten replicate [OPTION]... --slot=NAME --publication=NAME...'],
    [['--slot=Orders', '--publication=p'], 'slot name "Orders" is not valid: PostgreSQL takes 1 to 63 lower-case letters, digits and underscores'],
    [['--slot=', '--publication=p'], 'slot name "" is not valid: PostgreSQL takes 1 to 63 lower-case letters, digits and underscores'],
    [[`--slot=${'s'.repeat(64)}`, '--publication=p'], `slot name "${'s'.repeat(64)}" is not valid: PostgreSQL takes 1 to 63 lower-case letters, digits and underscores`],
    [['--slot=s', '--publication='], 'a publication name must not be empty'],
    // NAMEDATALEN - 1, in bytes, as a channel name is checked: a longer name the server would truncate.
    [['--slot=s', '--publication=p', `--publication=${'p'.repeat(64)}`], `publication name "${'p'.repeat(20)}"... is 64 bytes; PostgreSQL would truncate it to 63`],
    [['--slot=s', `--publication=${'é'.repeat(32)}`], `publication name "${'é'.repeat(20)}"... is 64 bytes; PostgreSQL would truncate it to 63`],
    [[...required, '--start=16-B374D848'], '--start takes an LSN, two hex numbers as in 16/B374D848, not "16-B374D848"'],
    [[...required, '--start=1/123456789'], '--start takes an LSN, two hex numbers as in 16/B374D848, not "1/123456789"'],
    [[...required, '--start= 0/1'], '--start takes an LSN, two hex numbers as in 16/B374D848, not " 0/1"'],
    [[...required, '--start=latest'], '--start takes an LSN, two hex numbers as in 16/B374D848, not "latest"'],
    [[...required, '--start'], "option '--start <value>' argument missing"],
    [[...required, 'orders'], 'unexpected argument "orders": replicate takes options and a connection string only'],
    [[...required, 'host=db', 'extra'], 'unexpected argument "extra": replicate takes options and a connection string only'],
    [[...required, '--create=yes'], "option '--create' does not take an argument"],
    [[...required, '--slots=s'], "unknown option '--slots'"],
    [[...required, '--slot', '--create'], '--slot needs a value, and "--create" is not one; to give a value that starts with "-", write --slot=--create'],
    [[...required, '--max-attempts', '0'], `--max-attempts takes a whole number from 1 to ${Number.MAX_SAFE_INTEGER}, not "0"`],
    [[...required, '--reconnect-delay', '2,1'], '--reconnect-delay takes MIN,MAX with MIN no longer than MAX, not "2,1"'],
    [[...required, '--reconnect-delay', '1,2,3'], '--reconnect-delay takes MIN or MIN,MAX in seconds, not "1,2,3"'],
    [[...required, '--reconnect-delay', 'soon'], '--reconnect-delay takes a number of seconds from 0.001 to 86400, not "soon"'],
    [[...required, '-W', '-w'], '-W (--password) and -w (--no-password) contradict each other'],
    [[...required, '--connect-timeout', '2.5'], '--connect-timeout takes a whole number of seconds from 0 (wait forever) to 86400, not "2.5"'],
    [['postgres//db/shop', ...required], 'invalid connection string: it begins "postgres//", and a URL begins "postgresql://" or "postgres://"'],
  ])('%j is refused: %s', (argv, message) => {
    expect(usageError(['replicate', ...argv])).toEqual({ message, command: 'replicate' })
  })

  test('--help, help replicate and --version, whatever else is on the line', () => {
    expect(parseCommandLine(['replicate', '--help'])).toEqual({ name: 'help', command: 'replicate' })
    expect(parseCommandLine(['replicate', '--slot=BAD', '--help'])).toEqual({ name: 'help', command: 'replicate' })
    expect(parseCommandLine(['help', 'replicate'])).toEqual({ name: 'help', command: 'replicate' })
    expect(parseCommandLine(['replicate', ...required, '-V'])).toEqual({ name: 'version' })
  })

  test('its help is laid out as every command\'s: the title and the section headings flush left, what is under them indented', () => {
    const headings = (text: string) => text.split('\n').filter((line) => /^[A-Z][a-z ]*:$/.test(line))
    expect(headings(usage('replicate'))).toEqual(['Usage:', 'Options:', 'Connection options:'])
    for (const command of ['listen', 'notify', 'bench'] as const) expect(headings(usage(command)), command).toEqual(['Usage:', 'Options:', 'Connection options:'])
    for (const command of ['listen', 'replicate', 'notify', 'bench'] as const) {
      const text = usage(command)
      expect(text.startsWith(`pglisten ${command}: `), command).toBe(true)
      expect(text, command).toContain(`\nUsage:\n  pglisten ${command} [OPTION]... [CONNINFO]`)
    }
  })

  test('its help: the usage line, every option, the connection options; no line over 80 columns', () => {
    const text = usage('replicate')
    expect(text.split('\n')[0]).toBe("pglisten replicate: print a replication slot's changes as JSON lines.")
    expect(text).toContain('  pglisten replicate [OPTION]... [CONNINFO] --slot=NAME --publication=NAME...\n')
    for (const option of ['--slot=NAME', '--publication=NAME', '--create', '--temporary', '--start=LSN', '--messages', '--reconnect-delay=MIN[,MAX]', '--max-attempts=N', '--help', '--trace']) {
      expect(text).toContain(`  ${option}`)
    }
    expect(text).toContain('\nConnection options:\n')
    expect(text).toContain('0.25,30') // the backoff's own defaults, read from it
    for (const help of [text, usage(undefined)]) for (const line of help.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80)
    expect(usage(undefined)).toContain('  pglisten replicate [OPTION]... [CONNINFO] --slot=NAME --publication=NAME...\n')
    // The commands in one column, each name and its summary apart by at least two spaces.
    const commands = usage(undefined).split('\nCommands:\n')[1]!.split('\n\n')[0]!.split('\n')
    expect(commands).toEqual([
      '  listen      print every notification on the channels as a JSON line',
      '  replicate   print every change a replication slot streams as a JSON line',
      '  notify      send a notification, or one per line of standard input',
      '  bench       measure notification throughput, latency and listener CPU time',
    ])
  })
})
