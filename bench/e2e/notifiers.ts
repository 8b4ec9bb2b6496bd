/**
 * The runner's notifiers: connections that send the benchmark's notifications to the real
 * server, the same for every client under test. They use pglisten's connect() (the sender's
 * client does not matter: its part ends when the server commits), over plain TCP.
 */
import { connect, type Connection } from '../../src/index.ts'
import { floodSql, type ServerAddress } from './workloads.ts'

export class Notifiers {
  private constructor(private readonly connections: Connection[]) {}

  static async open(server: ServerAddress, count: number): Promise<Notifiers> {
    const connections = await Promise.all(Array.from({ length: count }, () => connect({ ...server, sslmode: 'disable' })))
    return new Notifiers(connections)
  }

  get serverVersion(): string {
    return this.connections[0]!.parameters.get('server_version') ?? 'unknown'
  }

  /**
   * `count` notifications from `senders` transactions run in parallel (sender k sends counters
   * k * 10^7 + 1 ...), resolved once all have committed.
   */
  async flood(channel: string, payload: number, senders: number, count: number): Promise<void> {
    if (senders > this.connections.length || count % senders !== 0) throw new RangeError(`cannot split ${count} over ${senders} notifiers`)
    await Promise.all(this.connections.slice(0, senders).map((c, k) => c.query(floodSql(channel, payload, k + 1, count / senders))))
  }

  /**
   * One NOTIFY whose payload is this process's CLOCK_MONOTONIC time (process.hrtime, as the
   * listeners read it) taken just before the query is handed to the connection.
   */
  notifyNow(channel: string): Promise<unknown> {
    const sentAt = process.hrtime.bigint()
    return this.connections[0]!.query(`SELECT pg_notify('${channel}', '${sentAt}')`)
  }

  async close(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.close()))
  }
}
