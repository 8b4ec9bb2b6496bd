/**
 * Size budgets (npm test runs `size-limit` after the build): what a bundler adds to an app for
 * each entry point, measured as issue 13 measures it: esbuild, minified, ESM, node:* left
 * external, gzip level 9 (size-limit sums the gzip of each chunk). Code splitting is on, so what
 * pglisten loads by dynamic import becomes chunks of its own. The first two budgets count the
 * entry chunk, the chunks it imports statically, and the chunks a connection over TLS with SCRAM
 * loads on its way (the certificate reader, for SCRAM-SHA-256-PLUS; the listener's target_session_attrs
 * check): what an application that connects and listens actually loads. What loads only when a
 * setting or a server asks for it (change feeds, the outbox, md5, SASLprep's tables,
 * require_auth, the password file, the connection-string parser: settings given as an object)
 * is not counted; test/unit/bundle-split.test.ts checks which.
 * The third, everything pglisten/protocol exports, counts what loads up front only.
 *
 * The limits are a ratchet, not the issue's budgets (listener 14 kB, protocol 12 kB): they hold
 * today's size, and come down as the graph is cut (README, "Size"). They rose twice: by 0.1 kB
 * (2026-12-05), for correctness (timers past 24.8 days, and warnings said once per message), and
 * the listener's by 0.3 kB (2026-12-05), for listener.ts split in three files of one idea each,
 * and all three by 0.1 kB (2026-12-06), for onClose told only of the connection its caller has
 * (not of a host tried and left, nor of a failed open; a connection that ends on its way out is
 * a failure, not a dead connection handed back). The listener's came down by 0.4 kB
 * (2026-12-06): what feeds and the outbox borrow of it (feed-support.ts) is theirs to bring.
 * All three came down (2026-12-06: listener 0.7 kB, the protocol's 0.9 kB): the connection-
 * string parser loads only for a connection string, and resolveSettings and
 * parseConnectionString moved to pglisten/protocol/options. And by 0.35 kB more: SCRAM's strict
 * base64 checks what atob would let through, and lets atob and btoa move the bits. The protocol's
 * two then rose by 0.1 kB, for SCRAM's salt and server signature bounded before they are
 * decoded (a hostile server's megabytes of base64 held the event loop). All three came down by
 * 1.0 to 1.1 kB (2026-12-06): duplicated code merged (one options check, one NUL check, one
 * tracer guard), and three rare checks (hostaddr's, the client key's permissions, how a
 * connection string stores a setting) loaded only when a setting asks; and bytes/utf8.ts kept
 * out of md5's and SASLprep's chunks, where it was a chunk of its own gzipped apart. All three
 * came down by 0.3 kB (2026-12-06): libpq's defaults in a module of their own (options/
 * defaults.ts), so the password file no longer shares hosts.ts and values.ts as a chunk gzipped
 * apart; and the listener's rose by 0.31 kB of that, for four fixes of its promise (what no
 * consumer took kept per channel, with the Gaps that concern it, in held.ts; overlapping next()
 * calls; LISTEN and UNLISTEN sent in call order). The listener's rose by 0.15 kB (2026-12-06):
 * unlisten() and a failed listen() let go of what was held on the channel (with stallTimeout
 * false, what was held on an unlistened channel kept the socket paused for good), unlisten()
 * after the end rejects before it changes anything, and a change feed on a channel of the
 * user's is no consumer of the user's (it took what was held for the user's first consumer).
 * The listener's rose by 0.27 kB and the protocol's by 0.05 kB (2026-12-06, seventh session):
 * a lone surrogate in any text sent is a RangeError (TextEncoder sent U+FFFD, so a channel never
 * matched its own name); a query's signal gives up the notifier connection while it opens too,
 * a connection an error closed is not used again, and a call whose opening another call's
 * signal dropped waits for a new one; nothing reaches handlers after close(). Then all three
 * by 0.15 to 0.2 kB (the same day): a password function that never settles no longer holds connect()
 * past connect_timeout, the signal or a hang-up; the target_session_attrs check is bounded by
 * connect_timeout too; a host naming a socket folder beside a hostaddr no longer skips TCP and
 * TLS; NegotiateProtocolVersion naming options never requested is refused; connect(null) rejects.
 * All three rose by 0.1 to 0.15 kB (2026-12-06, eighth session), for how a connection ends: a
 * connection that failed keeps its reason through a later close(); a write after the socket's
 * end is dropped, not made the reason; close() waits at most a second for a server that reads
 * nothing more; cancel() is bounded by connect_timeout; a Workers link hands on nothing after
 * its end; an async handler's rejection goes to onHandlerError; and a text longer than the
 * runtime's strings says so, rather than "not valid UTF-8".
 * The listener's rose by 0.2 kB, the protocol's by 0.05 kB (2026-12-07, ninth session): each
 * 'gap' handler hears a reconnect's Gap once (what is held notes who heard it, and a handler
 * added during an event hears the next); close() from a handler stops the event under way and
 * those after it; an async onClose, onWarning or onHandlerError that
 * rejects is no unhandled rejection (which ends a Node process); protocolVersion, keepAlive and
 * the handlers are checked at once; a socket opened before an option was refused is closed.
 * (What only a failed attempt says moved to its lazy chunk.)
 * The listener's rose by 0.3 kB, the protocol's two by 0.05 kB (2026-12-07, tenth session):
 * the listener's SQL names pg_catalog's functions (pg_catalog.pg_notify...), so a search_path
 * that lists pg_catalog after a writable schema cannot put another function in their place;
 * the notifier's calls take turns (a call that waits has sent nothing, and goes on over a new
 * connection when the one before it loses it; a transaction a call left failed is rolled
 * back); a refused client certificate is told under TLS 1.3 too (the alert ends startup, not
 * the handshake), without OpenSSL's trailing newline; an empty root certificate file trusts
 * nothing (node:tls read '' as no ca, and trusted its whole store); TLS held at TLSv1.2 or
 * above whatever the process allows.
 * All three rose by 0.05 kB (2026-12-07, eleventh session): sslmode=verify-full checks the host
 * name by libpq's rules (certificate-name.ts, loaded only under verify-full), where node:tls let
 * a partial wildcard ("db*.example.com") through; the cost is the import that loads it.
 * The listener's rose by 1.0 kB, the protocol's two by 0.3 kB (2026-12-07, eleventh session), for
 * API misuse refused with a TypeError rather than run on: a signal that is no AbortSignal (it
 * broke close() once registered), channels given as a string (its characters), stallTimeout:
 * true (a 1 ms timer), reconnect: { retries } (reconnected for ever), an event name misspelt,
 * options the listener sets itself, a query that is not a string ([] ran an empty query), env,
 * trace, scram and maxMessageLength of the wrong type; a handler's thenable counted once (a
 * `then` that threw held backpressure for good). A "did you mean" for misspelt option names
 * (0.18 kB) was left out: TypeScript's excess property check finds those.
 * The listener's rose by 0.77 kB, the protocol's two by 0.12 kB (2026-12-07, twelfth session):
 * who heard a held Gap is judged per handler registration and its calls (a 'gap' handler
 * removed and added back, or a Gap released while its own event is under way, was told twice
 * or never); a new 'notification' handler takes what was held once on() has returned (the
 * once pattern threw a ReferenceError per held notification) and what it leaves mid-way is held
 * again; the reconnect backoff starts over only after a connection that stayed up as long as
 * the wait before it (a server that ends each session at once was hammered), and giving up says
 * so; an AbortSignal from another realm is taken by what is used of it, and a tracer may give
 * some of its hooks.
 * The listener's rose by 0.05 kB (2026-12-07, thirteenth session): who heard a held Gap is now
 * judged by numbered emits (0.05 kB less than the registrations' call counts it replaced), but
 * a new handler's stall clock starts in on() itself, a connection the heartbeat finds dead counts
 * as up only until it was last heard from (a path that lets connections be made and then carries
 * nothing was retried every heartbeat cycle for ever, maxAttempts never met), and giving up says
 * so in the singular too ("1 attempt"). Then by 0.17 kB for delivery.ts split in two files of
 * one idea each (holding.ts: who gets what no consumer took, and in what order), the state it
 * reads of Delivery passed as named functions.
 * The listener's and the protocol's connect came down by 0.15 to 0.18 kB (2026-12-07, fourteenth
 * session), for what pglisten/lite needed of the core they share: the Int64 readers and writer
 * that only replication uses are functions (replication/int64.ts), no longer class methods that
 * every bundle carried; the GSS, SSPI and Kerberos refusals load when a server asks for one;
 * constants esbuild can inline, and the prebuilt messages marked pure so that an unused one
 * (CopyDone) goes. Everything pglisten/protocol exports rose by 0.1 kB of that: it exports
 * those three functions.
 *
 * pglisten/lite's two are issue 13's budgets themselves, 14 and 12 kB: a listener and a
 * connection on the same protocol core, with settings as an object only (README, "pglisten/lite").
 */

/**
 * Keeps only what a connection (SCRAM over TLS, the password given) loads: the entry chunk, what
 * it imports statically, and the chunks of `alsoLoaded`, the modules it imports dynamically on
 * that path (with their own static imports), so size-limit measures those and nothing else.
 */
const loadedBy = (alsoLoaded) => ({
  name: 'what a SCRAM-over-TLS connection loads',
  setup(build) {
    build.onEnd((result) => {
      const outputs = result.metafile?.outputs
      if (!outputs) return
      const entry = Object.keys(outputs).find((file) => outputs[file].entryPoint?.endsWith('index.js') && file.endsWith('/index.js'))
      const lazy = Object.keys(outputs).filter((file) => alsoLoaded.some((module) => outputs[file].entryPoint?.endsWith(module)))
      if (lazy.length !== alsoLoaded.length) throw new Error(`not every one of ${alsoLoaded.join(', ')} is a chunk of its own`)
      const kept = new Set([entry, ...lazy])
      for (const file of kept) {
        for (const i of outputs[file].imports) if (i.kind === 'import-statement' && !i.external) kept.add(i.path)
      }
      for (const file of Object.keys(outputs)) if (!kept.has(file)) delete outputs[file]
    })
  },
})

const esbuild = (alsoLoaded) => (config) => ({
  ...config,
  format: 'esm',
  splitting: true,
  platform: 'neutral',
  mainFields: ['module', 'main'],
  conditions: ['import'],
  external: ['node:*', 'cloudflare:sockets'],
  minify: true,
  plugins: [...(config.plugins ?? []), loadedBy(alsoLoaded)],
})

/** What a SCRAM-over-TLS connection loads by dynamic import: the certificate reader, for SCRAM-SHA-256-PLUS. */
const connecting = ['auth/certificate.js']
/** The listener's, and the target_session_attrs check (its connections ask for a primary). */
const listening = [...connecting, 'io/target-session.js']

export default [
  {
    name: 'pglisten/lite: createListener, with what connecting over TLS with SCRAM and listening loads',
    import: { 'dist/lite.js': '{ createListener }' },
    gzip: true,
    modifyEsbuildConfig: esbuild([]),
    limit: '14 kB',
  },
  {
    name: 'pglisten/lite: connect, with what connecting over TLS with SCRAM loads',
    import: { 'dist/lite.js': '{ connect }' },
    gzip: true,
    modifyEsbuildConfig: esbuild([]),
    limit: '12 kB',
  },
  {
    name: 'pglisten: createListener, with what connecting over TLS with SCRAM and listening loads',
    import: { 'dist/index.js': '{ createListener }' },
    gzip: true,
    modifyEsbuildConfig: esbuild(listening),
    limit: '33.2 kB',
  },
  {
    name: 'pglisten/protocol: connect, with what connecting over TLS with SCRAM loads',
    import: { 'dist/protocol/index.js': '{ connect }' },
    gzip: true,
    modifyEsbuildConfig: esbuild(connecting),
    limit: '22.4 kB',
  },
  {
    name: 'pglisten/protocol: everything, up front',
    import: { 'dist/protocol/index.js': '*' },
    gzip: true,
    modifyEsbuildConfig: esbuild([]),
    limit: '24.5 kB',
  },
]
