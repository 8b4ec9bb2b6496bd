/**
 * The SCRAM-SHA-256 client replaying whole exchanges: the RFC 7677 vector, one recorded from psql,
 * and vectors whose proofs and signatures were computed by an independent program (Python's
 * hashlib and hmac), never by the code under test. Then the order of calls.
 */
import { describe, expect, test } from 'vitest'
import { ScramSha256Client } from '../../../src/protocol/auth/scram.ts'
import { RFC7677, ascii, expectRefusal, proved, started, text } from './scram-support.ts'

describe('whole exchanges', () => {
  test('RFC 7677 section 3: user "user", password "pencil"', async () => {
    const client = new ScramSha256Client({ password: 'pencil', username: 'user', nonce: 'rOprNGfwEbeRWgbNEkqO' })
    expect(client.mechanism).toBe('SCRAM-SHA-256')
    expect(text(client.clientFirstMessage())).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')
    const clientFinal = await client.clientFinalMessage(
      ascii('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
    )
    expect(text(clientFinal)).toBe(
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    )
    expect(client.done).toBe(false)
    client.verifyServerFinal(ascii('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='))
    expect(client.done).toBe(true)
  })

  // Recorded from psql against PostgreSQL; published as the `exchange` test of rust-postgres,
  // postgres-protocol/src/authentication/sasl.rs. PostgreSQL's form: an empty n=.
  test('recorded from psql: password "foobar", empty user name', async () => {
    const client = new ScramSha256Client({ password: 'foobar', nonce: '9IZ2O01zb9IgiIZ1WJ/zgpJB' })
    expect(text(client.clientFirstMessage())).toBe('n,,n=,r=9IZ2O01zb9IgiIZ1WJ/zgpJB')
    const clientFinal = await client.clientFinalMessage(
      ascii('r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx/oIRLs02gGSHcw1KEty3eY,s=fs3IXBy7U7+IvVjZ,i=4096'),
    )
    expect(text(clientFinal)).toBe(
      'c=biws,r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx/oIRLs02gGSHcw1KEty3eY,p=AmNKosjJzS31NTlQYNs5BTeQjdHdk7lOflDo5re2an8=',
    )
    client.verifyServerFinal(ascii('v=U+ppxD5XUKtradnv8e2MkeupiA8FU87Sg8CXzXHDAzw='))
    expect(client.done).toBe(true)
  })

  /*
   * PostgreSQL's form, with a password that SASLprep changes ("pa<SOFT HYPHEN>ss<NO-BREAK SPACE>
   * word<ROMAN NUMERAL NINE>" prepares to "pass wordIX"). Expected values from Python 3:
   *
   *   import base64, hashlib, hmac
   *   pw = 'pass wordIX'.encode()  # the prepared password, written out by hand
   *   salt = base64.b64encode(bytes(range(16))).decode()
   *   first_bare = 'n=,r=8Fq3sVN1k2lBq0hQyVbGx+/T'
   *   server_first = 'r=8Fq3sVN1k2lBq0hQyVbGx+/TzT6kX0pQ3rJ9wL2mN5aB,s=' + salt + ',i=4096'
   *   without_proof = 'c=biws,r=8Fq3sVN1k2lBq0hQyVbGx+/TzT6kX0pQ3rJ9wL2mN5aB'
   *   salted = hashlib.pbkdf2_hmac('sha256', pw, base64.b64decode(salt), 4096)
   *   client_key = hmac.new(salted, b'Client Key', 'sha256').digest()
   *   auth = ','.join([first_bare, server_first, without_proof]).encode()
   *   signature = hmac.new(hashlib.sha256(client_key).digest(), auth, 'sha256').digest()
   *   proof = bytes(a ^ b for a, b in zip(client_key, signature))
   *   server_key = hmac.new(salted, b'Server Key', 'sha256').digest()
   *   print(without_proof + ',p=' + base64.b64encode(proof).decode())
   *   print('v=' + base64.b64encode(hmac.new(server_key, auth, 'sha256').digest()).decode())
   */
  test('PostgreSQL form, SASLprep applied: vector computed with Python hashlib', async () => {
    const client = new ScramSha256Client({ password: 'pa\u00adss\u00a0word\u2168', nonce: '8Fq3sVN1k2lBq0hQyVbGx+/T' })
    expect(text(client.clientFirstMessage())).toBe('n,,n=,r=8Fq3sVN1k2lBq0hQyVbGx+/T')
    const clientFinal = await client.clientFinalMessage(
      ascii('r=8Fq3sVN1k2lBq0hQyVbGx+/TzT6kX0pQ3rJ9wL2mN5aB,s=AAECAwQFBgcICQoLDA0ODw==,i=4096'),
    )
    expect(text(clientFinal)).toBe(
      'c=biws,r=8Fq3sVN1k2lBq0hQyVbGx+/TzT6kX0pQ3rJ9wL2mN5aB,p=rGcRLTc3WyjKg3cCdsa2C0FSOMLxFX7T25qnQcl1rm0=',
    )
    client.verifyServerFinal(ascii('v=yjj4ityYbK9DBLP4kbAMYDmIKe6TXPF91iCplhsIgRA='))
    expect(client.done).toBe(true)
  })

  /*
   * SCRAM-SHA-256-PLUS with tls-server-end-point data 00 01 .. 1f. The same Python script with
   *   pw = b'pencil'; salt = 'c2FsdHNhbHQ='; i = 1024
   *   cbind = base64.b64encode(b'p=tls-server-end-point,,' + bytes(range(32))).decode()
   *   first_bare = 'n=,r=plusNonce'
   *   server_first = 'r=plusNonceFromServer,s=' + salt + ',i=1024'
   *   without_proof = 'c=' + cbind + ',r=plusNonceFromServer'
   */
  test('channel binding tls-server-end-point: vector computed with Python hashlib', async () => {
    const data = Uint8Array.from({ length: 32 }, (_, i) => i)
    const client = new ScramSha256Client({
      password: 'pencil',
      nonce: 'plusNonce',
      channelBinding: { type: 'tls-server-end-point', data },
    })
    expect(client.mechanism).toBe('SCRAM-SHA-256-PLUS')
    expect(text(client.clientFirstMessage())).toBe('p=tls-server-end-point,,n=,r=plusNonce')
    const clientFinal = await client.clientFinalMessage(ascii('r=plusNonceFromServer,s=c2FsdHNhbHQ=,i=1024'))
    expect(text(clientFinal)).toBe(
      'c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,' +
        'r=plusNonceFromServer,p=EhKriH20s9g03170AEH4IBRKjOLHzOnc8pmIJZtZ6oo=',
    )
    client.verifyServerFinal(ascii('v=eYi4K+TqiDmfYW7/gmoC07tntnFzxHxkHBnnGT2TWeM='))
    expect(client.done).toBe(true)
  })

  test("channel binding supported but unused: gs2 flag 'y', and c=eSws, base64 of \"y,,\"", async () => {
    const client = new ScramSha256Client({ password: 'pencil', nonce: 'abc', channelBinding: 'unused' })
    expect(client.mechanism).toBe('SCRAM-SHA-256')
    expect(text(client.clientFirstMessage())).toBe('y,,n=,r=abc')
    const clientFinal = text(await client.clientFinalMessage(ascii('r=abcdef,s=c2FsdA==,i=1')))
    expect(clientFinal).toMatch(/^c=eSws,r=abcdef,p=[A-Za-z0-9+/]{43}=$/)
  })
})

describe('options', () => {
  test('the default nonce is 18 random bytes in base64, fresh for every client', () => {
    const first = text(new ScramSha256Client({ password: 'p' }).clientFirstMessage())
    const second = text(new ScramSha256Client({ password: 'p' }).clientFirstMessage())
    expect(first).toMatch(/^n,,n=,r=[A-Za-z0-9+/]{24}$/)
    expect(second).not.toBe(first)
  })

  test("a user name is written as a saslname: '=' as =3D and ',' as =2C (RFC 5802 section 5.1)", () => {
    const client = new ScramSha256Client({ password: 'p', username: 'a=b,c', nonce: 'n' })
    expect(text(client.clientFirstMessage())).toBe('n,,n=a=3Db=2Cc,r=n')
  })

  test.each([
    ['a nonce with a comma', { nonce: 'ab,c' }, TypeError],
    ['an empty nonce', { nonce: '' }, TypeError],
    ['a nonce with a space', { nonce: 'ab c' }, TypeError],
    ['a nonce beyond ASCII', { nonce: 'ab\u00e9' }, TypeError],
    ['maxIterations 0', { maxIterations: 0 }, RangeError],
    ['maxIterations 1.5', { maxIterations: 1.5 }, RangeError],
    ['empty channel binding data', { channelBinding: { type: 'tls-server-end-point', data: new Uint8Array(0) } }, TypeError],
    ['a binding type other than tls-server-end-point', { channelBinding: { type: 'tls-unique', data: new Uint8Array(32) } }, TypeError],
    ['binding data that is not bytes', { channelBinding: { type: 'tls-server-end-point', data: [1, 2, 3] } }, TypeError],
    ['a password that is not a string', { password: new Uint8Array(3) }, TypeError],
  ] as const)('refuses %s', (_, options, kind) => {
    expect(() => new ScramSha256Client({ password: 'p', ...options } as never)).toThrow(kind)
  })

  test('each refusal says what was wrong', () => {
    const made = (options: object) => () => new ScramSha256Client({ password: 'p', ...options } as never)
    expect(made({ password: 5 })).toThrow('the SCRAM password must be a string')
    expect(made({ nonce: 'a,b' })).toThrow("a SCRAM nonce must be printable ASCII without ',' and not empty")
    expect(made({ maxIterations: -1 })).toThrow('maxIterations must be a positive integer, not -1')
    expect(made({ channelBinding: 'maybe' })).toThrow("channelBinding must be 'unused' or tls-server-end-point data")
  })
})

describe('calls out of order are refused, and end the exchange', () => {
  test('server-first-message before the client-first-message', async () => {
    const client = new ScramSha256Client({ password: 'pencil', nonce: RFC7677.nonce })
    await expectRefusal(() => client.clientFinalMessage(ascii(RFC7677.serverFirst)), /before the client-first-message/)
  })

  test('a second client-first-message', async () => {
    const client = started()
    await expectRefusal(() => client.clientFirstMessage(), /already made/)
  })

  test('server-final-message before the client-final-message', async () => {
    const client = started()
    await expectRefusal(() => client.verifyServerFinal(ascii(RFC7677.serverFinal)), /before the client-final-message/)
    // The exchange is over: the real server-first-message is refused now too.
    await expectRefusal(() => client.clientFinalMessage(ascii(RFC7677.serverFirst)), /already failed/)
  })

  test('a second server-first-message', async () => {
    const client = await proved()
    await expectRefusal(() => client.clientFinalMessage(ascii(RFC7677.serverFirst)), /second server-first-message/)
    await expectRefusal(() => client.verifyServerFinal(ascii(RFC7677.serverFinal)), /already failed/)
  })

  test('a second server-first-message while the first is still being hashed: both fail', async () => {
    const client = started()
    const first = client.clientFinalMessage(ascii(RFC7677.serverFirst))
    await expectRefusal(() => client.clientFinalMessage(ascii(RFC7677.serverFirst)), /second server-first-message/)
    await expectRefusal(() => first, /already failed/)
  })

  test('a second server-final-message', async () => {
    const client = await proved()
    client.verifyServerFinal(ascii(RFC7677.serverFinal))
    await expectRefusal(() => client.verifyServerFinal(ascii(RFC7677.serverFinal)), /second server-final-message/)
  })

  test('after any refusal, every later call is refused', async () => {
    const client = started()
    await expectRefusal(() => client.clientFinalMessage(ascii('r=wrong,s=c2FsdA==,i=1')), /nonce/)
    await expectRefusal(() => client.clientFinalMessage(ascii(RFC7677.serverFirst)), /already failed/)
    expect(client.done).toBe(false)
  })
})
