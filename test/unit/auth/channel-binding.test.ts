/**
 * channel_binding decisions, as libpq makes them in pg_SASL_init and check_expected_areq
 * (fe-auth.c) and build_client_first_message (fe-auth-scram.c), with the cases of PostgreSQL's
 * src/test/ssl/t/002_scram.pl and 001_password.pl. Messages are libpq's.
 */
import { fc, test as fcTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { checkChannelBound, checkWithoutSasl, chooseScram, type ChannelBinding } from '../../../src/protocol/auth/channel-binding.ts'
import { checkSaslMechanism, parseRequireAuth } from '../../../src/protocol/auth/require-auth.ts'
import { AuthenticationRefusedError } from '../../../src/protocol/errors.ts'

const PLUS = 'SCRAM-SHA-256-PLUS'
const SCRAM = 'SCRAM-SHA-256'
/** What PostgreSQL 11+ sends in AuthenticationSASL over TLS, and without it. */
const OVER_TLS = [PLUS, SCRAM]
const WITHOUT_TLS = [SCRAM]

describe('chooseScram', () => {
  test.each([
    // policy, TLS?, offered, choice
    ['prefer', true, OVER_TLS, { mechanism: PLUS, binding: 'p' }],
    ['require', true, OVER_TLS, { mechanism: PLUS, binding: 'p' }],
    ['disable', true, OVER_TLS, { mechanism: SCRAM, binding: 'n' }],
    // A server offering no -PLUS over TLS (a pooler, or a build without it): 'y' tells a server
    // that did offer one, behind a tampered list, that the client could have bound.
    ['prefer', true, WITHOUT_TLS, { mechanism: SCRAM, binding: 'y' }],
    ['disable', true, WITHOUT_TLS, { mechanism: SCRAM, binding: 'n' }],
    ['prefer', false, WITHOUT_TLS, { mechanism: SCRAM, binding: 'n' }],
    ['disable', false, WITHOUT_TLS, { mechanism: SCRAM, binding: 'n' }],
    // -PLUS wins wherever it sits in the list; other names are passed over.
    ['prefer', true, [SCRAM, 'OAUTHBEARER', PLUS], { mechanism: PLUS, binding: 'p' }],
    ['prefer', false, ['OAUTHBEARER', SCRAM], { mechanism: SCRAM, binding: 'n' }],
  ] as const)('channel_binding=%s, TLS %s, offered %j: %j', (policy, tls, offered, choice) => {
    expect(chooseScram(policy, tls, offered)).toEqual(choice)
  })

  test.each([
    ['require', false, WITHOUT_TLS, 'channel binding required, but SSL not in use'],
    // Refused before the list is read, so even a list offering -PLUS gets this message.
    ['require', false, OVER_TLS, 'channel binding required, but SSL not in use'],
    ['require', true, WITHOUT_TLS, 'channel binding is required, but server did not offer an authentication method that supports channel binding'],
    // -PLUS without TLS: the TLS was stripped on the way, or the server is lying; whatever the option.
    ['prefer', false, OVER_TLS, 'server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection'],
    ['disable', false, [SCRAM, PLUS], 'server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection'],
    ['prefer', true, ['OAUTHBEARER'], "none of the server's SASL authentication mechanisms are supported"],
    ['prefer', true, [], "none of the server's SASL authentication mechanisms are supported"],
    // Disabled binding leaves nothing to choose from a list of -PLUS alone.
    ['disable', true, [PLUS], "none of the server's SASL authentication mechanisms are supported"],
    ['prefer', true, ['scram-sha-256'], "none of the server's SASL authentication mechanisms are supported"],
  ] as const)('channel_binding=%s, TLS %s, offered %j: refused, "%s"', (policy, tls, offered, message) => {
    expect(() => chooseScram(policy, tls, offered)).toThrow(AuthenticationRefusedError)
    expect(() => chooseScram(policy, tls, offered)).toThrow(message)
  })

  test('require_auth judges the chosen mechanism before channel_binding=require does', () => {
    // libpq checks require_auth first, so its message is the one reported.
    expect(() => chooseScram('require', true, WITHOUT_TLS, (m) => checkSaslMechanism(parseRequireAuth('!scram-sha-256'), m))).toThrow(
      'authentication method requirement "!scram-sha-256" failed: server requested SCRAM-SHA-256 authentication',
    )
    expect(() => chooseScram('prefer', true, OVER_TLS, (m) => checkSaslMechanism(parseRequireAuth('oauth'), m))).toThrow(
      'server requested SCRAM-SHA-256-PLUS authentication',
    )
    // 002_scram.pl: "channel_binding should continue to work independently of require_auth".
    expect(chooseScram('disable', true, OVER_TLS, (m) => checkSaslMechanism(parseRequireAuth('scram-sha-256'), m))).toEqual({ mechanism: SCRAM, binding: 'n' })
    expect(chooseScram('require', true, OVER_TLS, (m) => checkSaslMechanism(parseRequireAuth('scram-sha-256'), m))).toEqual({ mechanism: PLUS, binding: 'p' })
  })

  test('a policy that is not one of the three is the caller\'s mistake', () => {
    // libpq: invalid channel_binding value: "invalid_value"
    expect(() => chooseScram('invalid_value' as ChannelBinding, true, OVER_TLS)).toThrow('invalid channel_binding value: "invalid_value"')
    expect(() => chooseScram('prefer', 'yes' as unknown as boolean, OVER_TLS)).toThrow(new TypeError('tls must be a boolean'))
    // A string is iterable too: read as a list, it would be refused as offering nothing we speak.
    expect(() => chooseScram('prefer', true, 'SCRAM-SHA-256' as unknown as string[])).toThrow(new TypeError('the offered mechanisms must be an array of strings'))
    expect(() => checkWithoutSasl('require', 'kerberos' as 'gss')).toThrow(new RangeError('unknown authentication request "kerberos"'))
  })
})

describe('requests and outcomes without SASL', () => {
  test.each(['password', 'md5', 'gss', 'sspi'] as const)('channel_binding=require refuses a %s request', (request) => {
    // 002_scram.pl, an MD5 user: "channel binding required but not supported by server's authentication request"
    expect(() => checkWithoutSasl('require', request)).toThrow("channel binding required but not supported by server's authentication request")
    checkWithoutSasl('prefer', request)
    checkWithoutSasl('disable', request)
  })

  test('channel_binding=require refuses AuthenticationOk with no SASL exchange (trust, cert)', () => {
    // 002_scram.pl, cert authentication: no exchange took place at all.
    expect(() => checkWithoutSasl('require', 'none')).toThrow('channel binding required, but server authenticated client without channel binding')
    checkWithoutSasl('prefer', 'none')
  })

  test('channel_binding=require accepts AuthenticationOk only after a bound exchange', () => {
    checkChannelBound('require', true)
    // An Ok that cuts a -PLUS exchange short, before SASLFinal, is not bound.
    expect(() => checkChannelBound('require', false)).toThrow('server authenticated client without channel binding')
    checkChannelBound('prefer', false)
    checkChannelBound('disable', false)
  })
})

describe('laws', () => {
  const policy = fc.constantFrom<ChannelBinding>('disable', 'prefer', 'require')
  const offered = fc.array(fc.constantFrom(PLUS, SCRAM, 'OAUTHBEARER', 'X'), { maxLength: 5 })

  /** The choice, or undefined when refused; anything but a refusal fails the test. */
  function choose(p: ChannelBinding, tls: boolean, list: readonly string[]) {
    try {
      return chooseScram(p, tls, list)
    } catch (error) {
      if (error instanceof AuthenticationRefusedError) return undefined
      throw error
    }
  }

  fcTest.prop([policy, fc.boolean(), offered])('the flag is p exactly when the mechanism is -PLUS', (p, tls, list) => {
    const choice = choose(p, tls, list)
    if (choice) expect(choice.binding === 'p').toBe(choice.mechanism === PLUS)
  })

  fcTest.prop([fc.boolean(), offered])('require never ends in an unbound exchange', (tls, list) => {
    const choice = choose('require', tls, list)
    if (choice) expect(choice).toEqual({ mechanism: PLUS, binding: 'p' })
  })

  fcTest.prop([fc.boolean(), offered])('disable never binds, and never claims it could', (tls, list) => {
    const choice = choose('disable', tls, list)
    if (choice) expect(choice).toEqual({ mechanism: SCRAM, binding: 'n' })
  })

  fcTest.prop([offered])('over TLS, prefer binds exactly when -PLUS is offered', (list) => {
    const choice = choose('prefer', true, list)
    if (list.includes(PLUS)) expect(choice?.mechanism).toBe(PLUS)
    else if (list.includes(SCRAM)) expect(choice).toEqual({ mechanism: SCRAM, binding: 'y' })
    else expect(choice).toBeUndefined()
  })

  fcTest.prop([policy, offered])('without TLS, nothing is ever bound', (p, list) => {
    expect(choose(p, false, list)?.binding ?? 'n').toBe('n')
  })
})
