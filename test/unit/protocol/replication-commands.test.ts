/**
 * The replication commands as text (src/protocol/replication/commands.ts): slot names checked
 * as slot.c's ReplicationSlotValidateName would, CREATE_REPLICATION_SLOT in the grammar of
 * PostgreSQL 14 and of 15 and later, DROP_REPLICATION_SLOT, and START_REPLICATION with
 * pgoutput's options, every name and value quoted. The property tests read the commands back
 * with a test-side reading of the replication grammar (repl_scanner.l) and of pgoutput's
 * SplitIdentifierString, so that quoting is checked by what the server would understand.
 */
import { fc, test as property } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import {
  checkSlotName,
  createReplicationSlot,
  dropReplicationSlot,
  identifySystem,
  startReplication,
  type PgoutputOptions,
} from '../../../src/protocol/replication/commands.ts'

/** The RangeError for a slot name, word for word: the name as JSON, cut to 70 characters. */
const badSlot = (shown: string) =>
  new RangeError(`slot name ${JSON.stringify(shown)} is not valid: PostgreSQL takes 1 to 63 lower-case letters, digits and underscores`)

describe('checkSlotName', () => {
  test.each([
    ['a'],                   // one character is enough
    ['z'],
    ['0'],
    ['9'],
    ['_'],
    ['pglisten_orders_2'],
    ['x'.repeat(63)],        // NAMEDATALEN - 1
  ])('%s is a slot name, returned as it is', (name) => {
    expect(checkSlotName(name)).toBe(name)
  })

  test.each([
    ['', 'empty'],
    ['x'.repeat(64), '64 characters'],
    ['Orders', 'an upper-case letter first'],
    ['ordersA', 'an upper-case letter last'],
    ['my-slot', 'a hyphen'],
    ['my slot', 'a space'],
    ['slot"', 'a double quote'],
    ['slot\0', 'a NUL'],
    ['é', 'a letter outside ASCII'],
    ['orders\n', 'a trailing newline'],
  ])('%j is refused (%s)', (name) => {
    expect(() => checkSlotName(name)).toThrow(badSlot(name))
  })

  test('a long name is shown cut to its first 70 characters', () => {
    const name = `${'A'.repeat(70)}${'b'.repeat(30)}`
    expect(() => checkSlotName(name)).toThrow(badSlot('A'.repeat(70)))
  })

  test('a name that is no string is a TypeError', () => {
    expect(() => checkSlotName(42 as unknown as string)).toThrow(new TypeError('a slot name must be a string, not number'))
    expect(() => checkSlotName(undefined as unknown as string)).toThrow(new TypeError('a slot name must be a string, not undefined'))
  })

  property.prop([fc.stringMatching(/^[a-z0-9_]{1,63}$/)])('every name of 1 to 63 lower-case letters, digits and underscores is taken', (name) => {
    expect(checkSlotName(name)).toBe(name)
  })

  property.prop([fc.string({ minLength: 1, maxLength: 80 }).filter((s) => !/^[a-z0-9_]{1,63}$/.test(s))])('every other string is a RangeError', (name) => {
    expect(() => checkSlotName(name)).toThrow(RangeError)
  })
})

describe('IDENTIFY_SYSTEM', () => {
  test('is the bare command', () => {
    expect(identifySystem).toBe('IDENTIFY_SYSTEM')
  })
})

describe('CREATE_REPLICATION_SLOT', () => {
  describe('PostgreSQL 14: the keyword form', () => {
    test.each([
      [{}, 'CREATE_REPLICATION_SLOT "orders" LOGICAL pgoutput NOEXPORT_SNAPSHOT'],
      [{ exportSnapshot: false }, 'CREATE_REPLICATION_SLOT "orders" LOGICAL pgoutput NOEXPORT_SNAPSHOT'],
      [{ exportSnapshot: true }, 'CREATE_REPLICATION_SLOT "orders" LOGICAL pgoutput EXPORT_SNAPSHOT'],
      [{ temporary: true }, 'CREATE_REPLICATION_SLOT "orders" TEMPORARY LOGICAL pgoutput NOEXPORT_SNAPSHOT'],
      [{ temporary: false, twoPhase: false }, 'CREATE_REPLICATION_SLOT "orders" LOGICAL pgoutput NOEXPORT_SNAPSHOT'],
      [{ temporary: true, exportSnapshot: true }, 'CREATE_REPLICATION_SLOT "orders" TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT'],
    ])('%j: %s', (options, command) => {
      expect(createReplicationSlot('orders', options, 140_012)).toBe(command)
    })

    test('149999, the last version number before 15, still gets the keyword form', () => {
      expect(createReplicationSlot('orders', {}, 149_999)).toBe('CREATE_REPLICATION_SLOT "orders" LOGICAL pgoutput NOEXPORT_SNAPSHOT')
    })

    test('a two-phase slot is a RangeError before PostgreSQL 15', () => {
      expect(() => createReplicationSlot('orders', { twoPhase: true }, 149_999)).toThrow(new RangeError('a two-phase slot needs PostgreSQL 15 or later'))
    })
  })

  describe('PostgreSQL 15 and later: the option list', () => {
    test.each([
      [{}, `CREATE_REPLICATION_SLOT "orders" LOGICAL pgoutput (SNAPSHOT 'nothing')`],
      [{ exportSnapshot: true }, `CREATE_REPLICATION_SLOT "orders" LOGICAL pgoutput (SNAPSHOT 'export')`],
      [{ twoPhase: true }, `CREATE_REPLICATION_SLOT "orders" LOGICAL pgoutput (SNAPSHOT 'nothing', TWO_PHASE true)`],
      [{ twoPhase: false }, `CREATE_REPLICATION_SLOT "orders" LOGICAL pgoutput (SNAPSHOT 'nothing')`],
      [{ temporary: true, exportSnapshot: true, twoPhase: true }, `CREATE_REPLICATION_SLOT "orders" TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export', TWO_PHASE true)`],
    ])('%j: %s', (options, command) => {
      expect(createReplicationSlot('orders', options, 180_004)).toBe(command)
    })

    test('150000 is the first version with it', () => {
      expect(createReplicationSlot('orders', { twoPhase: true }, 150_000)).toBe(`CREATE_REPLICATION_SLOT "orders" LOGICAL pgoutput (SNAPSHOT 'nothing', TWO_PHASE true)`)
    })
  })

  test('the slot name is checked first', () => {
    expect(() => createReplicationSlot('Orders', {}, 180_004)).toThrow(badSlot('Orders'))
    expect(() => createReplicationSlot('', {}, 140_000)).toThrow(badSlot(''))
  })
})

describe('DROP_REPLICATION_SLOT', () => {
  test('without WAIT by default', () => {
    expect(dropReplicationSlot('orders')).toBe('DROP_REPLICATION_SLOT "orders"')
    expect(dropReplicationSlot('orders', false)).toBe('DROP_REPLICATION_SLOT "orders"')
  })

  test('with WAIT', () => {
    expect(dropReplicationSlot('orders', true)).toBe('DROP_REPLICATION_SLOT "orders" WAIT')
  })

  test('the slot name is checked', () => {
    expect(() => dropReplicationSlot('orders; DROP')).toThrow(badSlot('orders; DROP'))
  })
})

describe('START_REPLICATION', () => {
  const v1: PgoutputOptions = { protocolVersion: 1, publications: ['pub'] }

  test('the least: protocol version and publications', () => {
    expect(startReplication('orders', 0n, v1)).toBe(`START_REPLICATION SLOT "orders" LOGICAL 0/0 (proto_version '1', publication_names '"pub"')`)
  })

  test('the start LSN as pg_lsn_out prints it', () => {
    expect(startReplication('orders', 0x16_b374_d848n, v1)).toBe(`START_REPLICATION SLOT "orders" LOGICAL 16/B374D848 (proto_version '1', publication_names '"pub"')`)
  })

  test('every option, in order', () => {
    expect(startReplication('orders', 0x1_0000_0000n, {
      protocolVersion: 4, publications: ['a', 'b'], messages: true, streaming: 'parallel', twoPhase: true, binary: true, origin: 'none',
    })).toBe(
      `START_REPLICATION SLOT "orders" LOGICAL 1/0 (proto_version '4', publication_names '"a","b"', ` +
      `messages 'true', streaming 'parallel', two_phase 'true', binary 'true', origin 'none')`,
    )
  })

  test.each([
    [{ messages: false }, ''],
    [{ messages: true }, `, messages 'true'`],
    [{ streaming: 'off' }, ''],                      // 'off' is pgoutput's default: not sent
    [{ streaming: 'on' }, `, streaming 'on'`],
    [{ twoPhase: false }, ''],
    [{ twoPhase: true }, `, two_phase 'true'`],
    [{ binary: false }, ''],
    [{ binary: true }, `, binary 'true'`],
    [{ origin: 'any' }, `, origin 'any'`],
    [{ origin: 'none' }, `, origin 'none'`],
  ] as const)('%j adds %j', (option, added) => {
    expect(startReplication('s', 0n, { protocolVersion: 3, publications: ['p'], ...option }))
      .toBe(`START_REPLICATION SLOT "s" LOGICAL 0/0 (proto_version '3', publication_names '"p"'${added})`)
  })

  test('each publication is quoted as an identifier, and the comma-joined list as a literal', () => {
    expect(startReplication('s', 0n, { protocolVersion: 1, publications: ['Orders', 'a"b', "it's", 'x,y', 'two words'] }))
      .toBe(`START_REPLICATION SLOT "s" LOGICAL 0/0 (proto_version '1', publication_names '"Orders","a""b","it''s","x,y","two words"')`)
  })

  describe('refused before anything is sent', () => {
    test.each([
      ['no publication', { protocolVersion: 4, publications: [] }, 'pgoutput needs at least one publication'],
      ['streaming on under protocol 1', { protocolVersion: 1, publications: ['p'], streaming: 'on' }, "streaming 'on' needs protocol version 2 or later"],
      ['streaming parallel under protocol 3', { protocolVersion: 3, publications: ['p'], streaming: 'parallel' }, "streaming 'parallel' needs protocol version 4"],
      ['two-phase under protocol 2', { protocolVersion: 2, publications: ['p'], twoPhase: true }, 'two-phase decoding needs protocol version 3 or later'],
      ['an empty publication name', { protocolVersion: 1, publications: ['p', ''] }, 'a publication name must not be empty'],
      ['a NUL in a publication name', { protocolVersion: 1, publications: ['p\0q'] }, 'an identifier must not contain a NUL character'],
    ] as const)('%s', (_, options, message) => {
      expect(() => startReplication('s', 0n, options)).toThrow(new RangeError(message))
    })

    test('a bad slot name', () => {
      expect(() => startReplication('S', 0n, v1)).toThrow(badSlot('S'))
    })

    test('an LSN outside 64 bits', () => {
      expect(() => startReplication('s', -1n, v1)).toThrow(new RangeError('-1 is outside the 64-bit range of an LSN'))
    })
  })

  test.each([
    ['streaming on, protocol 2', { streaming: 'on', protocolVersion: 2 }, `streaming 'on'`],
    ['streaming parallel, protocol 4', { streaming: 'parallel', protocolVersion: 4 }, `streaming 'parallel'`],
    ['two-phase, protocol 3', { twoPhase: true, protocolVersion: 3 }, `two_phase 'true'`],
  ] as const)('the first protocol version that allows it: %s', (_, options, added) => {
    expect(startReplication('s', 0n, { publications: ['p'], ...options }))
      .toBe(`START_REPLICATION SLOT "s" LOGICAL 0/0 (proto_version '${options.protocolVersion}', publication_names '"p"', ${added})`)
  })

  test('streaming off and no two-phase need no particular version', () => {
    expect(startReplication('s', 0n, { protocolVersion: 1, publications: ['p'], streaming: 'off', twoPhase: false }))
      .toBe(`START_REPLICATION SLOT "s" LOGICAL 0/0 (proto_version '1', publication_names '"p"')`)
  })
})

/**
 * A test-side reading of what the walsender does with START_REPLICATION's publication_names:
 * repl_scanner.l reads the string constant (between single quotes, '' for one quote, no
 * backslash escapes), and pgoutput splits its value with SplitIdentifierString(value, ',').
 */
function publicationNamesAsTheServerReadsThem(command: string): string[] {
  const literal = /publication_names '((?:[^']|'')*)'/.exec(command)
  if (literal === null) throw new Error(`no publication_names literal in ${command}`)
  return splitIdentifierString(literal[1]!.replaceAll("''", "'"), ',')
}

/** scansup.c's scanner_isspace: ASCII white space only. */
const scannerIsSpace = (c: string) => ' \t\n\r\f\v'.includes(c)

/** varlena.c's SplitIdentifierString: "quoted" names keep case ("" for one "), bare names are down-cased. */
function splitIdentifierString(raw: string, separator: string): string[] {
  const names: string[] = []
  let at = 0
  const skipSpace = () => {
    while (at < raw.length && scannerIsSpace(raw[at]!)) at++
  }
  skipSpace()
  if (at === raw.length) return names
  for (;;) {
    let name = ''
    if (raw[at] === '"') {
      for (at++; ; at++) {
        if (at === raw.length) throw new Error('unterminated quoted name')
        if (raw[at] === '"') {
          if (raw[at + 1] !== '"') break
          at++
        }
        name += raw[at]
      }
      at++ // the closing quote
    } else {
      const start = at
      while (at < raw.length && raw[at] !== separator && !scannerIsSpace(raw[at]!)) at++
      if (at === start) throw new Error('empty bare name')
      name = raw.slice(start, at).toLowerCase()
    }
    names.push(name)
    skipSpace()
    if (at === raw.length) return names
    if (raw[at] !== separator) throw new Error(`expected ${separator} at ${at} in ${raw}`)
    at++
    skipSpace()
  }
}

/** A slot name repl_scanner.l reads back from START_REPLICATION SLOT "...": between double quotes, "" for one. */
function slotAsTheServerReadsIt(command: string): string {
  const quoted = /^START_REPLICATION SLOT "((?:[^"]|"")*)" LOGICAL /.exec(command)
  if (quoted === null) throw new Error(`no quoted slot in ${command}`)
  return quoted[1]!.replaceAll('""', '"')
}

describe('laws', () => {
  const v1Options: PgoutputOptions = { protocolVersion: 1, publications: ['p'] }
  const publication = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((name) => !name.includes('\0'))

  property.prop([fc.array(publication, { minLength: 1, maxLength: 5 })])(
    'pgoutput gets back every publication name, whatever quotes, commas, spaces or case it holds',
    (publications) => {
      const command = startReplication('s', 0n, { protocolVersion: 1, publications })
      expect(publicationNamesAsTheServerReadsThem(command)).toEqual(publications)
    },
  )

  property.prop([fc.stringMatching(/^[a-z0-9_]{1,63}$/), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })])(
    'the walsender reads back the slot name and the start LSN',
    (slot, lsn) => {
      const command = startReplication(slot, lsn, v1Options)
      expect(slotAsTheServerReadsIt(command)).toBe(slot)
      const text = /LOGICAL ([0-9A-F]+)\/([0-9A-F]+) /.exec(command)!
      expect((BigInt(`0x${text[1]}`) << 32n) + BigInt(`0x${text[2]}`)).toBe(lsn)
    },
  )
})
