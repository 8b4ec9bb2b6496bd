/**
 * The startup exchange against scripted server messages: each authentication method, protocol
 * negotiation, and the refusals that keep a server from leading the client astray.
 */
import { createHash } from 'node:crypto'
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { AuthenticationRefusedError, DatabaseError, ProtocolViolationError } from '../../../src/protocol/errors.ts'
import type { StartupOptions } from '../../../src/protocol/exchange/startup.ts'
import { protocol30, protocol32 } from '../../../src/protocol/frontend.ts'
import { scriptedStartup, settle, until } from '../../support/scripted.ts'
import { ascii, backend, bytes, concat, cstr, int32, message } from '../../support/wire.ts'

/** The exchange recorded from psql (published in rust-postgres's sasl.rs tests): password "foobar". */
const psql = {
  nonce: '9IZ2O01zb9IgiIZ1WJ/zgpJB',
  serverFirst: 'r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx/oIRLs02gGSHcw1KEty3eY,s=fs3IXBy7U7+IvVjZ,i=4096',
  clientFinal: 'c=biws,r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx/oIRLs02gGSHcw1KEty3eY,p=AmNKosjJzS31NTlQYNs5BTeQjdHdk7lOflDo5re2an8=',
  serverFinal: 'v=U+ppxD5XUKtradnv8e2MkeupiA8FU87Sg8CXzXHDAzw=',
}
const scramOptions: StartupOptions = { user: 'ann', password: 'foobar', scram: { nonce: psql.nonce } }

/** What the server sends once authentication has succeeded. */
const welcome = () => concat(backend.backendKeyData(77, [...new Array(32).keys()]), backend.parameterStatus('server_version', '18.4'), backend.readyForQuery())


const begin = scriptedStartup

describe('startup messages', () => {
  test('asks for protocol 3.2 with the user, database, extra parameters and UTF8', async () => {
    const { sent } = await begin({ user: 'ann', database: 'db', parameters: { application_name: 'app' } })
    expect(sent[0]).toEqual(bytes(
      ...int32(72),                              // Int32 length: 4 + 4 + 21 + 9 + 21 + 12 + 1
      0x00, 0x03, 0x00, 0x02,                    // Int32(196610) protocol 3.2
      ...cstr('application_name'), ...cstr('app'),
      ...cstr('user'), ...cstr('ann'),
      ...cstr('client_encoding'), ...cstr('UTF8'),
      ...cstr('database'), ...cstr('db'),
      0x00,                                      // end of parameters
    ))
  })

  test('trust: AuthenticationOk, BackendKeyData, ReadyForQuery', async () => {
    const { serve, result, session } = await begin({ user: 'ann' })
    serve(backend.authenticationOk(), welcome())
    expect(await result).toEqual({
      protocolVersion: protocol32,
      authentication: 'trust',
      backendKey: { processId: 77, secretKey: Uint8Array.from([...new Array(32).keys()]) },
    })
    expect(session.parameters.get('server_version')).toBe('18.4')
  })

  test('NegotiateProtocolVersion lowers 3.2 to 3.0', async () => {
    const { serve, result } = await begin({ user: 'ann' })
    // What PostgreSQL 13 to 17 send: PG_PROTOCOL_LATEST, the whole version 3.0.
    serve(message('v', int32(0x30000), int32(0)), backend.authenticationOk(), backend.backendKeyData(5, [1, 2, 3, 4]), backend.readyForQuery())
    expect(await result).toMatchObject({ protocolVersion: protocol30, backendKey: { processId: 5, secretKey: bytes(1, 2, 3, 4) } })
  })

  test.each([
    ['NegotiateProtocolVersion after another message', [backend.authenticationOk(), message('v', int32(0x30000), int32(0))], /after the first message/],
    ['NegotiateProtocolVersion offering 3.2 to a 3.2 request', [message('v', int32(0x30002), int32(0))], /offers 3.2/],
    ['NegotiateProtocolVersion offering another major version', [message('v', int32(0x20000), int32(0))], /offers 2.0/],
    ['NegotiateProtocolVersion giving a bare minor number', [message('v', int32(0), int32(0))], /offers 0.0/],
    // Int32 newest version, Int32 count, String option: one pglisten never asked for (libpq 18 refuses it too).
    ['NegotiateProtocolVersion naming an option never requested', [message('v', int32(0x30000), int32(1), cstr('_pq_.compression'))], /not requested: _pq_.compression/],
    ['a 32-byte key under protocol 3.0', [message('v', int32(0x30000), int32(0)), backend.authenticationOk(), backend.backendKeyData(5, new Array(32).fill(1))], /4-byte keys/],
    ['BackendKeyData before authentication', [backend.backendKeyData(5, [1, 2, 3, 4])], /before authentication/],
    ['ReadyForQuery before authentication', [backend.readyForQuery()], /before authentication/],
    ['a DataRow during startup', [backend.authenticationOk(), backend.dataRow('x')], /during startup/],
  ])('%s is a protocol violation', async (_, script, why) => {
    const { serve, result, aborted } = await begin({ user: 'ann' })
    serve(...script)
    await expect(result).rejects.toThrow(why)
    await expect(result).rejects.toBeInstanceOf(ProtocolViolationError)
    // Out of step unless the offending message was ReadyForQuery; either way the Connection
    // destroys the link when startup fails.
    expect(aborted).toHaveLength(script.at(-1)![0] === 0x5a ? 0 : 1)
  })

  test('an ErrorResponse ends startup with a DatabaseError', async () => {
    const { serve, result } = await begin({ user: 'ann' })
    serve(backend.errorResponse({ S: 'FATAL', V: 'FATAL', C: '3D000', M: 'database "x" does not exist' }))
    await expect(result).rejects.toMatchObject({ name: 'DatabaseError', code: '3D000', severity: 'FATAL' })
    await expect(result).rejects.toBeInstanceOf(DatabaseError)
  })
})

describe('passwords', () => {
  test('cleartext: a PasswordMessage with the password', async () => {
    const { serve, sent, result } = await begin({ user: 'ann', password: 'sécret' })
    serve(backend.authenticationCleartextPassword())
    await settle()
    expect(sent[1]).toEqual(message('p', cstr('sécret')))
    serve(backend.authenticationOk(), welcome())
    expect(await result).toMatchObject({ authentication: 'password' })
  })

  test('md5: "md5" + md5(md5(password + user) + salt), computed here with node:crypto', async () => {
    const salt = [0x93, 0x1c, 0x5e, 0x02]
    const md5 = (data: Uint8Array | string) => createHash('md5').update(data).digest('hex')
    const expected = 'md5' + md5(concat(ascii(md5('pw' + 'ann')) as unknown as Uint8Array, Uint8Array.from(salt)))
    const { serve, sent, result } = await begin({ user: 'ann', password: 'pw' })
    serve(backend.authenticationMD5Password(salt))
    await until(() => sent.length > 1) // md5 is loaded by dynamic import, the first time: not within settle()
    expect(sent[1]).toEqual(message('p', cstr(expected)))
    serve(backend.authenticationOk(), welcome())
    expect(await result).toMatchObject({ authentication: 'md5' })
  })

  test('a password function is called only when the server asks', async () => {
    let calls = 0
    const password = () => {
      calls++
      return 'pw'
    }
    const trusted = await begin({ user: 'ann', password })
    trusted.serve(backend.authenticationOk(), welcome())
    await trusted.result
    expect(calls).toBe(0)
    const asked = await begin({ user: 'ann', password: async () => (calls++, 'pw') })
    asked.serve(backend.authenticationCleartextPassword())
    await settle()
    expect(asked.sent[1]).toEqual(message('p', cstr('pw')))
    expect(calls).toBe(1)
  })

  test('no password: refused by the client, nothing sent', async () => {
    const { serve, sent, result } = await begin({ user: 'ann' })
    serve(backend.authenticationCleartextPassword())
    await expect(result).rejects.toBeInstanceOf(AuthenticationRefusedError)
    expect(sent).toHaveLength(1)
  })

  test('a second password request is refused: no loop', async () => {
    const { serve, sent, result } = await begin({ user: 'ann', password: 'pw' })
    serve(backend.authenticationCleartextPassword())
    await settle()
    serve(backend.authenticationCleartextPassword())
    await expect(result).rejects.toThrow(/after authentication had already begun/)
    expect(sent).toHaveLength(2)
  })

  test.each([
    [2, 'KerberosV5'],
    [7, 'GSS'],
    [9, 'SSPI'],
  ])('code %i (%s) is refused by name', async (code, name) => {
    const { serve, result } = await begin({ user: 'ann', password: 'pw' })
    serve(message('R', int32(code)))
    await expect(result).rejects.toThrow(new RegExp(`asks for ${name} authentication`))
    await expect(result).rejects.toBeInstanceOf(AuthenticationRefusedError)
  })
})

describe('SCRAM-SHA-256', () => {
  /** Serves the recorded exchange up to the server-final message; returns the pieces. */
  async function throughClientFinal() {
    const run = await begin(scramOptions)
    run.serve(backend.authenticationSASL('SCRAM-SHA-256'))
    await settle()
    expect(run.sent[1]).toEqual(message('p', cstr('SCRAM-SHA-256'), int32(32), ascii(`n,,n=,r=${psql.nonce}`)))
    run.serve(backend.authenticationSASLContinue(psql.serverFirst))
    await until(() => run.sent.length === 3) // PBKDF2 runs in WebCrypto, off this tick
    expect(run.sent[2]).toEqual(message('p', ascii(psql.clientFinal)))
    return run
  }

  test('the recorded exchange completes', async () => {
    const { serve, result } = await throughClientFinal()
    serve(backend.authenticationSASLFinal(psql.serverFinal), backend.authenticationOk(), welcome())
    expect(await result).toMatchObject({ authentication: 'SCRAM-SHA-256', backendKey: { processId: 77 } })
  })

  propertyTest.prop([fc.array(fc.nat(), { maxLength: 6 })], { numRuns: 25 })(
    'SASLFinal and AuthenticationOk arriving in one chunk, or in any split, are both handled',
    async (cuts) => {
      const { session, result } = await throughClientFinal()
      const tail = concat(backend.authenticationSASLFinal(psql.serverFinal), backend.authenticationOk(), welcome())
      const points = [...new Set(cuts.map((c) => c % tail.length))].sort((a, b) => a - b)
      let from = 0
      for (const to of [...points, tail.length]) {
        session.receive(tail.subarray(from, to))
        from = to
      }
      expect(await result).toMatchObject({ authentication: 'SCRAM-SHA-256' })
    },
  )

  test('AuthenticationOk with no SASLFinal is refused', async () => {
    const { serve, result } = await throughClientFinal()
    serve(backend.authenticationOk(), welcome())
    await expect(result).rejects.toThrow(/before the SCRAM exchange was complete/)
    await expect(result).rejects.toBeInstanceOf(AuthenticationRefusedError)
  })

  test('SASLFinal before the exchange is complete is refused', async () => {
    const { serve, result } = await begin(scramOptions)
    serve(backend.authenticationSASL('SCRAM-SHA-256'))
    await settle()
    serve(backend.authenticationSASLFinal(psql.serverFinal))
    await expect(result).rejects.toThrow(/out of order/)
    await expect(result).rejects.toBeInstanceOf(AuthenticationRefusedError)
  })

  test('SASLContinue before any SASL request, or a second one, is refused', async () => {
    const early = await begin(scramOptions)
    early.serve(backend.authenticationSASLContinue(psql.serverFirst))
    await expect(early.result).rejects.toThrow(/AuthenticationSASLContinue out of order/)
    expect(early.sent).toHaveLength(1)
    const twice = await throughClientFinal()
    twice.serve(backend.authenticationSASLContinue(psql.serverFirst))
    await expect(twice.result).rejects.toThrow(/AuthenticationSASLContinue out of order/)
    await expect(twice.result).rejects.toBeInstanceOf(AuthenticationRefusedError)
    expect(twice.sent).toHaveLength(3) // no second client-final-message
  })

  test('a second AuthenticationSASL is refused', async () => {
    const { serve, result } = await begin(scramOptions)
    serve(backend.authenticationSASL('SCRAM-SHA-256'))
    await settle()
    serve(backend.authenticationSASL('SCRAM-SHA-256'))
    await expect(result).rejects.toThrow(/after authentication had already begun/)
  })

  test('a wrong server signature is refused, and AuthenticationOk after it is never read as success', async () => {
    const { serve, result } = await throughClientFinal()
    serve(backend.authenticationSASLFinal('v=' + 'A'.repeat(43) + '='), backend.authenticationOk(), welcome())
    await expect(result).rejects.toBeInstanceOf(AuthenticationRefusedError)
  })

  test('a server offering no mechanism we support is refused before anything is sent', async () => {
    const { serve, sent, result } = await begin(scramOptions)
    serve(backend.authenticationSASL('SCRAM-SHA-1', 'OAUTHBEARER'))
    await expect(result).rejects.toThrow(/none of the server's SASL authentication mechanisms are supported \(SCRAM-SHA-1, OAUTHBEARER\)/)
    expect(sent).toHaveLength(1)
  })
})

describe('require_auth (its rules loaded by dynamic import when it is set)', () => {
  test('a bad list or a non-string is refused before the StartupMessage is sent', async () => {
    for (const [requireAuth, kind] of [['md5,bogus', RangeError], [5, TypeError]] as const) {
      const { sent, result } = await begin({ user: 'ann', password: 'pw', requireAuth: requireAuth as string })
      await expect(result).rejects.toBeInstanceOf(kind)
      expect(sent).toHaveLength(0)
    }
  })

  test("'' allows everything, as unset does: a cleartext request, then AuthenticationOk", async () => {
    const { serve, sent, result } = await begin({ user: 'ann', password: 'pw', requireAuth: '' })
    serve(backend.authenticationCleartextPassword())
    await settle()
    expect(sent[1]).toEqual(message('p', cstr('pw')))
    serve(backend.authenticationOk(), welcome())
    expect(await result).toMatchObject({ authentication: 'password' })
  })

  test('each verdict is asked: the request, the SASL mechanism, and an AuthenticationOk with no exchange', async () => {
    const refused = async (requireAuth: string, ...messages: Uint8Array[]) => {
      const { serve, sent, result } = await begin({ user: 'ann', password: 'pw', requireAuth })
      await until(() => sent.length === 1)
      serve(...messages)
      const error = await result.catch((e: unknown) => e)
      expect(error, requireAuth).toBeInstanceOf(AuthenticationRefusedError)
      expect(sent, requireAuth).toHaveLength(1) // no password material sent
      return (error as Error).message
    }
    expect(await refused('scram-sha-256', backend.authenticationCleartextPassword())).toMatch(/server requested a cleartext password/)
    expect(await refused('password', backend.authenticationSASL('SCRAM-SHA-256'))).toMatch(/server requested SASL authentication/)
    expect(await refused('!scram-sha-256', backend.authenticationSASL('SCRAM-SHA-256'))).toMatch(/server requested SCRAM-SHA-256 authentication/)
    expect(await refused('password', backend.authenticationOk())).toMatch(/server did not complete authentication/)
  })

  test('an allowed method that completes is accepted: AuthenticationOk after the password was sent', async () => {
    const { serve, sent, result } = await begin({ user: 'ann', password: 'pw', requireAuth: 'password' })
    await until(() => sent.length === 1)
    serve(backend.authenticationCleartextPassword())
    await until(() => sent.length === 2)
    serve(backend.authenticationOk(), welcome())
    expect(await result).toMatchObject({ authentication: 'password' })
  })

  // GSSAPI and SSPI are not spoken, but judged first, each by its own name: sspi allows
  // GSSContinue as libpq's does (SSPI may negotiate Kerberos through it), gss allows both GSS codes.
  test.each([
    ['sspi', 7, /server requested GSSAPI authentication/],
    ['gss', 9, /server requested SSPI authentication/],
    ['gss', 7, /asks for GSS authentication, which pglisten does not support/],
    ['sspi', 9, /asks for SSPI authentication, which pglisten does not support/],
    ['sspi', 8, /asks for GSSContinue authentication, which pglisten does not support/],
    ['password', 8, /server requested GSSAPI authentication/],
  ])('require_auth=%s and request code %i: %s', async (requireAuth, code, reason) => {
    const { serve, sent, result } = await begin({ user: 'ann', password: 'pw', requireAuth })
    await until(() => sent.length === 1)
    serve(message('R', int32(code), code === 8 ? [1, 2] : []))
    await expect(result).rejects.toThrow(reason)
    await expect(result).rejects.toBeInstanceOf(AuthenticationRefusedError)
  })
})
