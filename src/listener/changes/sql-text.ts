/**
 * Pieces of the SQL text the installers generate: literals safe under any server setting,
 * dollar-quoted bodies, advisory lock keys. Pure; imports the listener's quoting and the
 * fingerprint of names.ts.
 */
import { quoteLiteral } from '../sql.ts'
import { fingerprint } from './names.ts'

/**
 * A string literal that means the same whether standard_conforming_strings is on or off (E'...'
 * when there is a backslash), because installers cannot see the setting through the minimal
 * `query` interface, and because a function body is parsed again later, under whatever the
 * setting is then.
 */
export function literal(text: string): string {
  return quoteLiteral(text, false)
}

/**
 * `body` in dollar quotes ("Dollar-Quoted String Constants"): nothing inside is an escape, so
 * generated PL/pgSQL stays readable. The tag is `$pglisten$`, or `$pglisten1$`, ... when the
 * body holds it: a name quoted inside the body may contain anything, including a tag. The tag
 * must first occur where the closing one starts: a body ending in `$pglisten` would otherwise
 * close early, joined with the closing tag's `$`.
 */
export function dollarQuote(body: string): string {
  for (let n = 0; ; n++) {
    const tag = `$pglisten${n === 0 ? '' : n}$`
    if (`${body}${tag}`.indexOf(tag) === body.length) return `${tag}${body}${tag}`
  }
}

/**
 * `DO` with `body` (PL/pgSQL statements, after `declare`'s variables) run under search_path =
 * pg_catalog, pg_temp, and the caller's search_path back after it. Functions are written
 * pg_catalog.f, but an operator (=, ||) is looked up on the search_path too, and one of the
 * same argument types in a schema listed before pg_catalog is the one used ("Operator Type
 * Resolution"): a superuser's install would run it. PL/pgSQL plans each statement when it
 * first runs, so under the pinned path; a variable's type is looked up before, when the block
 * is compiled, so `declare` names pg_catalog's types. An error aborts the transaction, and the
 * path set with it (set_config's is_local).
 */
export function pinnedDo(body: string, declare = ''): string {
  return `DO ${dollarQuote(`
DECLARE
  _search_path pg_catalog.text := pg_catalog.current_setting('search_path');${declare}
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);${body}
  PERFORM pg_catalog.set_config('search_path', _search_path, true);
END
`)}`
}

/**
 * A PL/pgSQL expression: 1, 2, ... for each change a trigger sends in one transaction. NOTIFY
 * drops a payload equal to one already sent on the channel in the same transaction ("NOTIFY":
 * "only one instance of the notification event is delivered"), so an insert, a delete and the
 * same insert again would otherwise lose the second insert, and two identical ALTERs one event.
 * The counter is a custom setting changed with set_config(..., true), which ends with the
 * transaction (and with a rolled-back savepoint, whose notifications are discarded too).
 */
export const transactionSeq = `pg_catalog.set_config('pglisten.seq',
    (COALESCE(NULLIF(pg_catalog.current_setting('pglisten.seq', true), ''), '0')::bigint + 1)::text, true)::bigint`

/**
 * `SELECT pg_advisory_xact_lock(k)`, k a bigint from `purpose`: serializes installs that would
 * otherwise race on the same catalog rows ("tuple concurrently updated", or a duplicate key),
 * such as several copies of an application installing the same feed as they start. Released
 * at the end of the transaction. A collision with an application's own advisory key would only
 * make one wait for the other briefly.
 */
export function advisoryLock(purpose: string): string {
  const key = BigInt.asIntN(64, BigInt(`0x${fingerprint(purpose).slice(0, 16)}`))
  return `SELECT pg_catalog.pg_advisory_xact_lock('${key}'::bigint)`
}
