/**
 * npm run demo, run for real against the test server (--url, so it does not start a second
 * one): the change events arrive, the summary adds up, and it leaves nothing behind.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { expect, test } from 'vitest'
import { connectSuperuser, server } from '../support/connect.ts'

test('the demo shows each change as it arrives, sums them up, and cleans up', async () => {
  const pg = server()
  const url = `postgresql://${pg.superuser.user}@${pg.host}:${pg.port}/${pg.database}?sslmode=disable`
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--url', url, '--changes', '6'], {
    cwd: new URL('../..', import.meta.url),
    env: { ...process.env, PGPASSFILE: '/nonexistent' },
    timeout: 60_000,
  })
  // The feed's own channel, named as rowChangeChannel() names it (it once printed "undefined").
  expect(stdout).toMatch(/^listening on public\.pglisten_demo_orders through channel pglisten_rows_pglisten_demo_orders_[0-9a-f]{8}$/m)
  const events = stdout.split('\n').filter((line) => /^\s+\+\s*\d+ ms/.test(line))
  expect(events.map((line) => line.match(/ms\s+(\w+)/)![1])).toEqual(['INSERT', 'UPDATE', 'DELETE', 'INSERT', 'UPDATE', 'DELETE'])
  expect(stdout).toMatch(/6 changes heard in \d+ ms: 2 INSERT, 2 UPDATE, 2 DELETE\./)
  const c = await connectSuperuser()
  const [left] = await c.query("SELECT count(*) FROM pg_class WHERE relname = 'pglisten_demo_orders'")
  await c.close()
  expect(left!.rows).toEqual([['0']])
}, 90_000)

test('a table of that name that is not the demo\'s: the demo stops before writing, and leaves it as it was', async () => {
  const pg = server()
  const url = `postgresql://${pg.superuser.user}@${pg.host}:${pg.port}/${pg.database}?sslmode=disable`
  const c = await connectSuperuser()
  try {
    await c.query("CREATE TABLE public.pglisten_demo_orders (id int PRIMARY KEY, note text); INSERT INTO public.pglisten_demo_orders VALUES (1, 'yours')")
    const failed = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--url', url, '--changes', '3'], {
      cwd: new URL('../..', import.meta.url),
      env: { ...process.env, PGPASSFILE: '/nonexistent' },
      timeout: 60_000,
    }).then(() => undefined, (error: { code?: number; stderr?: string }) => error)
    expect(failed?.code).toBe(1)
    expect(failed?.stderr).toContain('demo failed: public.pglisten_demo_orders exists already')
    // Before: its rows written over, and the table dropped at the end.
    const [rows] = await c.query('SELECT id, note FROM public.pglisten_demo_orders')
    expect(rows!.rows).toEqual([['1', 'yours']])
  } finally {
    await c.query('DROP TABLE IF EXISTS public.pglisten_demo_orders')
    await c.close()
  }
}, 90_000)
