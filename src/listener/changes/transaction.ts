/**
 * Runs an installer's statements as one transaction through the smallest interface a client
 * offers (`query(sql)`), so that an install or a removal happens whole or not at all.
 * Imports nothing at run time.
 */

/**
 * What the installers need from a client: a simple query. A pglisten Connection satisfies it;
 * so does a node-postgres Client. The result is never read: every decision that depends on
 * the database is taken by the server, inside the transaction (see checks.ts).
 */
export interface SqlRunner {
  query(sql: string): Promise<unknown>
  /**
   * ReadyForQuery's transaction status, when the client tracks it ('I' idle, 'T' in a
   * transaction block, 'E' in a failed one), as a pglisten Connection does.
   */
  readonly transactionStatus?: string
}

/**
 * BEGIN, the statements, COMMIT; on any error ROLLBACK, then the error, through `translate`
 * when it names a better one. Each statement is its own query: an error in a multi-statement
 * simple query leaves an explicit transaction open and failed, and the statement that failed
 * is clearer on its own.
 *
 * Refuses to start inside the caller's transaction block, where BEGIN would only warn and the
 * COMMIT or ROLLBACK would end the caller's transaction.
 */
export async function runInTransaction(
  db: SqlRunner,
  statements: readonly string[],
  translate: (error: unknown) => Error | undefined = () => undefined,
): Promise<void> {
  if (typeof db?.query !== 'function') throw new TypeError('expected a client with a query(sql) method, such as a Connection')
  if (db.transactionStatus !== undefined && db.transactionStatus !== 'I') {
    throw new TypeError(`the connection is inside a transaction block (status ${db.transactionStatus}); installers run their own transaction`)
  }
  // READ COMMITTED whatever the default: each statement must see what concurrent installs
  // committed while this one waited for its lock (see the installers' first statements).
  await db.query('BEGIN ISOLATION LEVEL READ COMMITTED')
  try {
    // "... does not exist, skipping" from the IF EXISTS clauses is expected, not news; SET
    // LOCAL ends with the transaction.
    await db.query('SET LOCAL client_min_messages = warning')
    for (const statement of statements) await db.query(statement)
    await db.query('COMMIT')
  } catch (error) {
    // Best effort: after a failed COMMIT, or a lost connection, there is nothing to roll back.
    await db.query('ROLLBACK').catch(() => undefined)
    throw translate(error) ?? error
  }
}

/** The SQLSTATE of an error from any client that reports it as `code` (pglisten, node-postgres). */
export function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  return typeof error.code === 'string' ? error.code : undefined
}
