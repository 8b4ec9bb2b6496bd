/**
 * require_auth, as libpq parses it (pqConnectOptions2 in fe-connect.c) and judges with it
 * (check_expected_areq and pg_SASL_init in fe-auth.c), with the rules of libpq's docs
 * ("Parameter Key Words", require_auth) and the cases of PostgreSQL's own test,
 * src/test/authentication/t/001_password.pl. Messages are libpq's, word for word.
 */
import { fc, test as fcTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import {
  AUTH_METHODS,
  checkAuthenticationOk,
  checkRequest,
  checkSaslMechanism,
  parseRequireAuth,
  type AuthMethod,
  type AuthRequest,
} from '../../../src/protocol/auth/require-auth.ts'
import { AuthenticationRefusedError } from '../../../src/protocol/errors.ts'

const REQUESTS: readonly AuthRequest[] = ['password', 'md5', 'gss', 'gss-continue', 'sspi', 'sasl']

/** The methods a rule allows, in AUTH_METHODS order. */
const allowed = (text: string | undefined) => AUTH_METHODS.filter((m) => parseRequireAuth(text).allows(m))
const requestAllowed = (text: string, request: AuthRequest) => {
  try {
    checkRequest(parseRequireAuth(text), request)
    return true
  } catch (error) {
    if (error instanceof AuthenticationRefusedError) return false
    throw error
  }
}

describe('parsing', () => {
  test('unset, or empty: everything is allowed and the server may skip authentication', () => {
    for (const text of [undefined, '']) {
      const rule = parseRequireAuth(text)
      expect(rule.text).toBe('')
      expect(allowed(text)).toEqual(AUTH_METHODS)
      expect(() => checkAuthenticationOk(rule, false)).not.toThrow()
      for (const request of REQUESTS) checkRequest(rule, request)
    }
  })

  test.each([
    ['password', ['password']],
    ['md5', ['md5']],
    ['gss', ['gss']],
    ['sspi', ['sspi']],
    ['scram-sha-256', ['scram-sha-256']],
    ['oauth', ['oauth']],
    // "the none method requires the server not to use an authentication challenge"
    ['none', ['none']],
    // "a comma-separated list ... of which the server must use exactly one"
    ['password,md5', ['password', 'md5']],
    ['scram-sha-256,none', ['scram-sha-256', 'none']],
    ['gss,sspi', ['gss', 'sspi']],
  ] as const)('%s allows exactly %j', (text, methods) => {
    expect(allowed(text)).toEqual(methods)
    expect(parseRequireAuth(text).text).toBe(text)
  })

  test.each([
    // "the server must not attempt the listed method; any other method is accepted, and the
    // server is free not to authenticate the client at all"
    ['!password', ['md5', 'gss', 'sspi', 'scram-sha-256', 'oauth', 'none']],
    ['!password,!md5', ['gss', 'sspi', 'scram-sha-256', 'oauth', 'none']],
    // "It may also be negated, to require some form of authentication."
    ['!none', ['password', 'md5', 'gss', 'sspi', 'scram-sha-256', 'oauth']],
    ['!scram-sha-256,!oauth', ['password', 'md5', 'gss', 'sspi', 'none']],
  ] as const)('%s allows %j', (text, methods) => {
    expect(allowed(text)).toEqual(methods)
  })

  test.each([
    // "Negated and non-negated forms may not be combined in the same setting."
    ['scram-sha-256,!md5', 'negative require_auth method "!md5" cannot be mixed with non-negative methods'],
    ['!password,!none,scram-sha-256', 'require_auth method "scram-sha-256" cannot be mixed with negative methods'],
    // Duplicates "probably indicate a typo in a setting where typos are extremely risky".
    ['md5,md5', 'require_auth method "md5" is specified more than once'],
    ['scram-sha-256,scram-sha-256', 'require_auth method "scram-sha-256" is specified more than once'],
    ['gss,gss', 'require_auth method "gss" is specified more than once'],
    ['none,none', 'require_auth method "none" is specified more than once'],
    ['!none,!none', 'require_auth method "!none" is specified more than once'],
    ['!sspi,!sspi', 'require_auth method "!sspi" is specified more than once'],
    ['!oauth,!oauth', 'require_auth method "!oauth" is specified more than once'],
    // Unknown methods; libpq trims nothing and compares case-sensitively.
    ['abc', 'invalid require_auth value: "abc"'],
    ['!abc', 'invalid require_auth value: "abc"'],
    ['MD5', 'invalid require_auth value: "MD5"'],
    ['password, md5', 'invalid require_auth value: " md5"'],
    ['password,', 'invalid require_auth value: ""'],
    [',password', 'invalid require_auth value: ""'],
    ['!', 'invalid require_auth value: ""'],
    ['!!md5', 'invalid require_auth value: "!md5"'],
    ['scram-sha-256-plus', 'invalid require_auth value: "scram-sha-256-plus"'],
    ['trust', 'invalid require_auth value: "trust"'],
    ['constructor', 'invalid require_auth value: "constructor"'],
    // The first problem in the list is the one reported.
    ['password,abc,!md5', 'invalid require_auth value: "abc"'],
    ['password,!abc', 'negative require_auth method "!abc" cannot be mixed with non-negative methods'],
  ])('%j is refused: %s', (text, message) => {
    expect(() => parseRequireAuth(text)).toThrow(RangeError)
    expect(() => parseRequireAuth(text)).toThrow(message)
  })

  test('gss and sspi share GSSContinue, and duplicates are judged by libpq\'s bits', () => {
    // `gss,sspi` and `!gss,!sspi` are not duplicates, though both entries cover code 8.
    expect(allowed('!gss,!sspi')).toEqual(['password', 'md5', 'scram-sha-256', 'oauth', 'none'])
    expect(requestAllowed('sspi', 'gss-continue')).toBe(true)
    expect(requestAllowed('gss', 'gss-continue')).toBe(true)
    expect(requestAllowed('password', 'gss-continue')).toBe(false)
    // libpq's quirk: forbidding gss forbids the continuation an SSPI exchange needs too.
    expect(requestAllowed('!gss', 'sspi')).toBe(true)
    expect(requestAllowed('!gss', 'gss-continue')).toBe(false)
  })

  test('a non-string is the caller\'s mistake', () => {
    expect(() => parseRequireAuth(5 as unknown as string)).toThrow(new TypeError('require_auth must be a string'))
    expect(() => parseRequireAuth('md5').allows('trust' as AuthMethod)).toThrow(RangeError)
  })
})

describe('judging the server', () => {
  test('a request outside the list is refused, before any password is sent', () => {
    const rule = parseRequireAuth('scram-sha-256')
    expect(() => checkRequest(rule, 'password')).toThrow(
      'authentication method requirement "scram-sha-256" failed: server requested a cleartext password',
    )
    expect(() => checkRequest(rule, 'md5')).toThrow('failed: server requested a hashed password')
    expect(() => checkRequest(rule, 'gss')).toThrow('failed: server requested GSSAPI authentication')
    expect(() => checkRequest(rule, 'sspi')).toThrow('failed: server requested SSPI authentication')
    checkRequest(rule, 'sasl')
    expect(() => checkRequest(parseRequireAuth('password'), 'sasl')).toThrow(
      'authentication method requirement "password" failed: server requested SASL authentication',
    )
  })

  test('SASL: the request passes while any mechanism is allowed, then the chosen one is judged', () => {
    // !scram-sha-256 still allows oauth, so AuthenticationSASL itself is answered...
    const rule = parseRequireAuth('!scram-sha-256')
    checkRequest(rule, 'sasl')
    checkSaslMechanism(rule, 'OAUTHBEARER')
    // ...and the choice of SCRAM, with or without channel binding, is refused.
    expect(() => checkSaslMechanism(rule, 'SCRAM-SHA-256')).toThrow(
      'authentication method requirement "!scram-sha-256" failed: server requested SCRAM-SHA-256 authentication',
    )
    expect(() => checkSaslMechanism(rule, 'SCRAM-SHA-256-PLUS')).toThrow('server requested SCRAM-SHA-256-PLUS authentication')
    // With no mechanism left, the SASL request itself is refused.
    expect(() => checkRequest(parseRequireAuth('!scram-sha-256,!oauth'), 'sasl')).toThrow('server requested SASL authentication')
    expect(() => checkSaslMechanism(parseRequireAuth('oauth'), 'SCRAM-SHA-256')).toThrow('SCRAM-SHA-256')
    checkSaslMechanism(parseRequireAuth('scram-sha-256'), 'SCRAM-SHA-256-PLUS')
  })

  test('AuthenticationOk without a finished exchange: "server did not complete authentication"', () => {
    // A server that skips SASLFinal has not proved it knows the password.
    expect(() => checkAuthenticationOk(parseRequireAuth('scram-sha-256'), false)).toThrow(
      'authentication method requirement "scram-sha-256" failed: server did not complete authentication',
    )
    expect(() => checkAuthenticationOk(parseRequireAuth('!none'), false)).toThrow('server did not complete authentication')
    checkAuthenticationOk(parseRequireAuth('scram-sha-256'), true)
    checkAuthenticationOk(parseRequireAuth('password'), true)
    // Allowing none allows an Ok at any time: libpq's comment notes this accepts partial SCRAM.
    checkAuthenticationOk(parseRequireAuth('scram-sha-256,none'), false)
    checkAuthenticationOk(parseRequireAuth('!password'), false)
    checkAuthenticationOk(parseRequireAuth('none'), false)
  })
})

/**
 * The require_auth cases of PostgreSQL's src/test/authentication/t/001_password.pl, replayed
 * against three servers: what each sends, and the checks libpq makes on each message.
 */
describe("PostgreSQL's own test, 001_password.pl", () => {
  type Server = 'trust' | 'password' | 'scram-sha-256'
  function connect(text: string, server: Server): string {
    try {
      const rule = parseRequireAuth(text)
      if (server === 'password') checkRequest(rule, 'password')
      if (server === 'scram-sha-256') {
        checkRequest(rule, 'sasl')
        checkSaslMechanism(rule, 'SCRAM-SHA-256')
      }
      // AuthenticationOk: the client finished an exchange unless the server asked for none.
      checkAuthenticationOk(rule, server !== 'trust')
      return 'ok'
    } catch (error) {
      if (error instanceof AuthenticationRefusedError || error instanceof RangeError) return error.message
      throw error
    }
  }

  test.each([
    ['', 'trust', 'ok'],
    ['gss', 'trust', 'authentication method requirement "gss" failed: server did not complete authentication'],
    ['sspi', 'trust', 'authentication method requirement "sspi" failed: server did not complete authentication'],
    ['password', 'trust', 'authentication method requirement "password" failed: server did not complete authentication'],
    ['md5', 'trust', 'authentication method requirement "md5" failed: server did not complete authentication'],
    ['scram-sha-256', 'trust', 'authentication method requirement "scram-sha-256" failed: server did not complete authentication'],
    ['password,scram-sha-256', 'trust', 'authentication method requirement "password,scram-sha-256" failed: server did not complete authentication'],
    ['!gss', 'trust', 'ok'],
    ['!sspi', 'trust', 'ok'],
    ['!password', 'trust', 'ok'],
    ['!md5', 'trust', 'ok'],
    ['!scram-sha-256', 'trust', 'ok'],
    ['!password,!scram-sha-256', 'trust', 'ok'],
    ['none', 'trust', 'ok'],
    ['!none', 'trust', 'authentication method requirement "!none" failed: server did not complete authentication'],
    ['scram-sha-256,!md5', 'trust', 'negative require_auth method "!md5" cannot be mixed with non-negative methods'],
    ['!password,!none,scram-sha-256', 'trust', 'require_auth method "scram-sha-256" cannot be mixed with negative methods'],
    ['password,md5,password', 'trust', 'require_auth method "password" is specified more than once'],
    ['!password,!md5,!password', 'trust', 'require_auth method "!password" is specified more than once'],
    ['none,md5,none', 'trust', 'require_auth method "none" is specified more than once'],
    ['!none,!md5,!none', 'trust', 'require_auth method "!none" is specified more than once'],
    ['scram-sha-256,scram-sha-256', 'trust', 'require_auth method "scram-sha-256" is specified more than once'],
    ['!scram-sha-256,!scram-sha-256', 'trust', 'require_auth method "!scram-sha-256" is specified more than once'],
    ['none,abcdefg', 'trust', 'invalid require_auth value: "abcdefg"'],
    ['password', 'password', 'ok'],
    ['!none', 'password', 'ok'],
    ['scram-sha-256,password,md5', 'password', 'ok'],
    ['md5', 'password', 'authentication method requirement "md5" failed: server requested a cleartext password'],
    ['scram-sha-256', 'password', 'authentication method requirement "scram-sha-256" failed: server requested a cleartext password'],
    ['none', 'password', 'authentication method requirement "none" failed: server requested a cleartext password'],
    ['!password', 'password', 'authentication method requirement "!password" failed: server requested a cleartext password'],
    ['!password,!md5,!scram-sha-256', 'password', 'authentication method requirement "!password,!md5,!scram-sha-256" failed: server requested a cleartext password'],
    ['scram-sha-256', 'scram-sha-256', 'ok'],
    ['!none', 'scram-sha-256', 'ok'],
    ['password,scram-sha-256,md5', 'scram-sha-256', 'ok'],
    ['password', 'scram-sha-256', 'authentication method requirement "password" failed: server requested SASL authentication'],
    ['md5', 'scram-sha-256', 'authentication method requirement "md5" failed: server requested SASL authentication'],
    ['none', 'scram-sha-256', 'authentication method requirement "none" failed: server requested SASL authentication'],
    ['!scram-sha-256', 'scram-sha-256', 'authentication method requirement "!scram-sha-256" failed: server requested SCRAM-SHA-256 authentication'],
    ['!password,!md5,!scram-sha-256', 'scram-sha-256', 'authentication method requirement "!password,!md5,!scram-sha-256" failed: server requested SCRAM-SHA-256 authentication'],
  ] as const)('require_auth=%j against a %s server: %s', (text, server, outcome) => {
    expect(connect(text, server)).toBe(outcome)
  })
})

describe('laws', () => {
  const methods = fc.shuffledSubarray([...AUTH_METHODS], { minLength: 1 })

  fcTest.prop([methods])('a list and its negation allow complementary sets of methods', (list) => {
    const plain = parseRequireAuth(list.join(','))
    const negated = parseRequireAuth(list.map((m) => `!${m}`).join(','))
    for (const method of AUTH_METHODS) expect(plain.allows(method)).toBe(!negated.allows(method))
    for (const method of AUTH_METHODS) expect(plain.allows(method)).toBe(list.includes(method))
  })

  fcTest.prop([methods.filter((list) => !list.includes('scram-sha-256') && !list.includes('oauth'))])(
    'without SASL methods, a list and its negation answer complementary sets of requests',
    (list) => {
      const plain = list.join(',')
      const negated = list.map((m) => `!${m}`).join(',')
      for (const request of REQUESTS) expect(requestAllowed(plain, request)).toBe(!requestAllowed(negated, request))
    },
  )

  fcTest.prop([methods, fc.boolean(), fc.nat()])('repeating any entry is refused', (list, negate, pick) => {
    const entries = list.map((m) => (negate ? `!${m}` : m))
    const repeated = entries[pick % entries.length]!
    expect(() => parseRequireAuth([...entries, repeated].join(','))).toThrow(`"${repeated}" is specified more than once`)
  })

  fcTest.prop([fc.string({ maxLength: 12 }).filter((s) => !s.includes(',') && !s.startsWith('!') && !AUTH_METHODS.includes(s as AuthMethod) && s !== '')])(
    'any entry that is not a method is refused by name',
    (entry) => {
      expect(() => parseRequireAuth(`password,${entry}`)).toThrow(`invalid require_auth value: "${entry}"`)
    },
  )
})
