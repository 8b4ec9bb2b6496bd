/**
 * target_session_attrs: is this server the kind the caller wants? Asked the way libpq asks
 * (fe-connect.c, CONNECTION_CHECK_TARGET): from the in_hot_standby and
 * default_transaction_read_only parameters that PostgreSQL 14+ reports at startup, else with
 * a query. Returns undefined when the server suits, else libpq's reason.
 */
import type { TargetSessionAttrs } from '../options/index.ts'
import type { Connection } from './connection.ts'

export async function checkTargetSession(connection: Connection, want: TargetSessionAttrs | 'any'): Promise<string | undefined> {
  switch (want) {
    case 'any':
      return undefined
    case 'read-write':
      return (await readOnly(connection)) ? 'session is read-only' : undefined
    case 'read-only':
      return (await readOnly(connection)) ? undefined : 'session is not read-only'
    case 'primary':
      return (await inHotStandby(connection)) ? 'server is in hot standby mode' : undefined
    case 'standby':
    case 'prefer-standby':
      return (await inHotStandby(connection)) ? undefined : 'server is not in hot standby mode'
  }
}

async function readOnly(connection: Connection): Promise<boolean> {
  const parameters = connection.parameters
  const defaultReadOnly = parameters.get('default_transaction_read_only')
  const hotStandby = parameters.get('in_hot_standby')
  if (defaultReadOnly !== undefined && hotStandby !== undefined) return defaultReadOnly === 'on' || hotStandby === 'on'
  const [result] = await connection.query('SHOW transaction_read_only')
  return result?.rows[0]?.[0] === 'on'
}

async function inHotStandby(connection: Connection): Promise<boolean> {
  const hotStandby = connection.parameters.get('in_hot_standby')
  if (hotStandby !== undefined) return hotStandby === 'on'
  const [result] = await connection.query('SELECT pg_catalog.pg_is_in_recovery()')
  return result?.rows[0]?.[0] === 't'
}
