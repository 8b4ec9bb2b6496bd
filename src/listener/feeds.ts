/**
 * Change feeds as iterators: changes(listener, 'public.orders') and ddlChanges(listener),
 * exported by pglisten/changes (src/changes.ts).
 * Each one subscribes first (so nothing heard after its LISTEN can be missed), then installs
 * its trigger (idempotent) and LISTENs, then yields typed events: decoded changes, a
 * PayloadError for a payload that cannot be decoded (never dropped), and Gap markers.
 * Pure mapping over a Subscription; the listener supplies the install and listen steps.
 * What must happen at the call (checking the arguments, naming the channel, subscribing) is
 * here; the triggers' SQL and the decoders are feed-parts.ts's, used once the call has returned.
 */
import { DatabaseError } from '../protocol/errors.ts'
import type { Connection } from '../protocol/io/connection.ts'
import type { DdlChange, DdlTriggerOptions, PayloadError, RowChange, TableName, TcnChange } from './changes/index.ts'
import type { SqlRunner } from './changes/transaction.ts'
import { ddlNames, rowChangeChannel, tcnDefaultChannel } from './changes/names.ts'
import { parseTableName } from './changes/table-name.ts'
import { checkObject, checkSignal } from './connect-options.ts'
import * as feedParts from './feed-parts.ts'
import type { Gap, ListenerItem, Notification } from './subscription.ts'
import type { NotificationsOptions } from './listener-types.ts'

export interface ChangesOptions {
  /** 'rows' (default): the JSON row trigger; 'tcn': the tcn extension's trigger. */
  feed?: 'rows' | 'tcn'
  /** The channel the trigger notifies; default the feed's own. */
  channel?: string
  /**
   * Install the trigger (idempotent) before listening; default true. With false, a tcn feed's
   * table must exist all the same (its `ready` rejects, SQLSTATE 42P01, as an install's would):
   * the feed follows the table through a rename by the OID it finds then.
   */
  install?: boolean
  /**
   * Remove the trigger and its function when the feed ends (its return(), its signal, or the
   * listener's close(), which waits up to 5 s for it). Default false: they stay installed after
   * close(), and the table keeps notifying (one NOTIFY per changed row) with nobody listening.
   * Only for a feed that owns its trigger: its name depends on the table alone, so every feed
   * on that table (in this process or any other) loses it when the first of them ends.
   */
  removeOnClose?: boolean
  signal?: AbortSignal
  /** Include Gap items; default true. */
  gaps?: boolean
}

export type Change = RowChange | TcnChange
export type FeedItem<T> = T | PayloadError | Gap

/**
 * A feed's iterator. `ready` resolves once the trigger is installed and the channel listened
 * on: read the current state after it, then process the events (PostgreSQL's LISTEN docs).
 * A feed that ends first (its signal, return()) installs and listens on nothing; its `ready`
 * resolves all the same.
 */
export interface Feed<T> extends AsyncIterableIterator<FeedItem<T>> {
  readonly ready: Promise<void>
  /** The channel its trigger notifies and it listens on (not among the listener's `channels`, unless the user listens on it too). */
  readonly channel: string
}

/** How a feed reads its notifications: feed-parts.ts gives it. */
export interface Decoder<T> {
  decode: (notification: Notification) => T | PayloadError
  /**
   * Drops notifications meant for another feed on a shared channel (tcn's default serves every
   * table); may look in the catalog first, and answer a PayloadError for one it cannot place
   * (about `notification`, which a feed always gives).
   */
  accept?: (event: T, notification?: Notification) => boolean | PayloadError | Promise<boolean | PayloadError>
}

export interface FeedParts<T> {
  channel: string
  source: AsyncIterableIterator<ListenerItem>
  /** Resolves, with the feed's decoder, once the feed is set up (trigger installed, channel listened). */
  ready: Promise<Decoder<T>>
  /** Run when the feed ends (its return(), or its source ending): the trigger's removal, if asked. */
  ended?: () => Promise<void>
  /** The listener was closed (not given up): a setup that failed then ends the feed instead. */
  closed?: () => boolean
}

/**
 * An iterator over `source` that first waits for `ready` (throwing its error, if any, from the
 * first next()), then maps each notification through its decoder, keeping what `accept` takes.
 */
export function feed<T>({ channel, source, ready, ended = async () => {}, closed }: FeedParts<T>): Feed<T> {
  ready.catch(() => undefined) // reported by the first next() (or to whoever awaits ready)
  let decoder: Decoder<T> | undefined
  /** The setup, awaited by every next() (one called while another waits must not read past it). */
  let setUp: Promise<void> | undefined
  /** A failed setup's error, until the first next() to see it throws it. */
  let failure: { error: unknown } | undefined
  /**
   * The read under way: a next() called while another reads waits for it, so that each gets
   * the next item in call order (a read that skips another table's change reads again).
   */
  let reading: Promise<unknown> = Promise.resolve()
  const read = async (): Promise<IteratorResult<FeedItem<T>>> => {
    for (;;) {
      const result = await source.next()
      if (result.done) {
        await ended()
        return result
      }
      const item = result.value
      if (item.type === 'Gap') return { value: item, done: false }
      if (decoder === undefined) continue // unreachable: without a decoder (a failed setup) the source was ended before this read
      const event = decoder.decode(item)
      const kept = isPayloadError(event) || (await (decoder.accept?.(event, item) ?? true))
      if (kept !== false) return { value: kept === true ? event : kept, done: false }
    }
  }
  const iterator: Feed<T> = {
    ready: ready.then(() => undefined),
    channel,
    async next(): Promise<IteratorResult<FeedItem<T>>> {
      setUp ??= ready.then(
        (loaded) => void (decoder = loaded),
        async (error: unknown) => {
          failure = { error }
          await source.return?.()
        },
      )
      await setUp
      if (failure) {
        const { error } = failure
        failure = undefined
        // close() came before the setup was done (it refuses the install, or aborts it): the feed
        // ends, as close() ends every iterator; `ready` still rejects, since it never was.
        if (closed?.()) return { value: undefined, done: true }
        throw error
      }
      const next = reading.then(read)
      reading = next.catch(() => undefined)
      return next
    },
    async return(): Promise<IteratorResult<FeedItem<T>>> {
      // ended() first: it marks the feed over at once, so a setup still to run installs nothing.
      const ending = ended()
      await source.return?.()
      await ending
      return { value: undefined, done: true }
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  iterator.ready.catch(() => undefined)
  return iterator
}

/** PayloadError by its type tag (the class is feed-parts.ts's to use). */
function isPayloadError(event: unknown): event is PayloadError {
  return (event as { type?: unknown })?.type === 'PayloadError'
}

export type { DdlChange }
export type DdlChangesOptions = DdlTriggerOptions & Omit<ChangesOptions, 'feed' | 'channel'>

/** What a feed needs from the listener. */
export interface FeedSource {
  notifications(options: NotificationsOptions): AsyncIterableIterator<ListenerItem>
  /** LISTEN on a feed's channel (counted, and kept out of the listener's channels and other consumers). */
  listen(channel: string): Promise<void>
  /** The feed ended: UNLISTEN its channel unless another feed or the user still listens on it. */
  release(channel: string): void
  /** The listener was closed, and not because it gave up. */
  closed?(): boolean
  /** Runs an install (a transaction) on a connection of its own; close() aborts it. */
  install<T>(work: (connection: Connection) => Promise<T>): Promise<T>
  /** Runs a removal (a transaction) on a connection of its own; close() waits for it, for a while. */
  remove(work: (connection: Connection) => Promise<void>): Promise<void>
  /** Has close() run `cleanup` (and report its failure); returns how to unregister it, or false if closing already. */
  onClose(cleanup: () => Promise<void>): (() => void) | false
  /** Runs a feed's catalog look-ups (where its table is now), on the listener's notifier connection. */
  catalog?: SqlRunner
}

/**
 * The triggers' SQL and the decoders, taken after the call has returned (a promise): whatever
 * they throw reaches the feed through `ready` and its first next(), never the call.
 */
const afterTheCall = () => Promise.resolve(feedParts)

/** changes(listener): check, subscribe (all at the call), then install (unless told not to), LISTEN, decode. */
export function tableChanges(listener: FeedSource, table: TableName, options: ChangesOptions): Feed<Change> {
  checkObject(options) // null: a TypeError that says so, not one about reading its fields
  // Here, not left to notifications(): a null, false, 0 or '' would be passed over there as
  // none, then fail in setUp() with the consumer subscribed and the setup begun.
  checkSignal(options.signal)
  const kind = options.feed ?? 'rows'
  parseTableName(table) // a bad name throws here, before anything is subscribed or installed
  const channel = options.channel ?? (kind === 'rows' ? rowChangeChannel(table) : tcnDefaultChannel)
  const source = listener.notifications({ channels: [channel], ...(options.signal ? { signal: options.signal } : {}), gaps: options.gaps ?? true })
  // A feed that follows its table by OID (tcn's, whose payload names it as it is now) or removes
  // its trigger finds it even when it installs nothing; one that installs nothing checks that
  // its table can have a row trigger at all (feed-parts.ts); any other does not look.
  const catalog = kind === 'tcn' || options.removeOnClose || options.install === false ? listener.catalog : undefined
  const loaded = afterTheCall().then((m) => m.tableParts(table, kind, channel, catalog))
  const { ready, ended } = setUp(listener, channel, options, loaded)
  return feed({ channel, source, ready, ended, closed: () => listener.closed?.() ?? false })
}

/** ddlChanges(listener): the same for the DDL event trigger. */
export function ddlChanges(listener: FeedSource, options: DdlChangesOptions): Feed<DdlChange> {
  checkObject(options)
  checkSignal(options.signal) // as tableChanges() does, before anything is subscribed
  const { install, signal, gaps, removeOnClose, ...trigger } = options
  const { channel } = ddlNames(trigger)
  const source = listener.notifications({ channels: [channel], ...(signal ? { signal } : {}), gaps: gaps ?? true })
  const loaded = afterTheCall().then((m) => m.ddlParts(trigger))
  const { ready, ended } = setUp(listener, channel, options, loaded)
  return feed({ channel, source, ready, ended, closed: () => listener.closed?.() ?? false })
}

/** What feed-parts.ts gives a feed: its trigger's install and removal, and its decoder. */
export interface Parts<T> extends Decoder<T> {
  install(connection: SqlRunner): Promise<unknown>
  /** Finds what the feed looks up later (its table's OID) without installing: with install: false. A tcn feed's rejects when there is no such table. */
  locate?(): Promise<void>
  remove(connection: SqlRunner): Promise<void>
}

/**
 * A feed's setup and its end. Setup: install the trigger (unless install: false), then LISTEN.
 * The end, run once (return(), the source ending, the signal, or a failed setup): release the
 * channel (UNLISTEN unless someone else listens on it) and, with removeOnClose, remove the trigger.
 */
function setUp<T>(listener: FeedSource, channel: string, options: Pick<ChangesOptions, 'install' | 'removeOnClose' | 'signal'>, loaded: Promise<Parts<T>>): { ready: Promise<Decoder<T>>; ended: () => Promise<void> } {
  let listening = false
  let over = false
  let committing = false
  // A feed that ended before its setup (its signal, its return()) installs, LISTENs and so
  // removes nothing: `installed` says whether the setup went ahead.
  const installed = loaded.then(async (sql) => {
    if (over) return false
    if (options.install !== false) await listener.install((connection) => sql.install(watchCommit(connection, () => (committing = true))))
    else await sql.locate?.()
    return true
  })
  // Whether a trigger may be there to remove: the setup went ahead, or its install failed in
  // doubt. A COMMIT sent whose answer never came (the connection cut by close() or the network,
  // a pooler's FATAL) may have committed all the same; an ERROR in answer rolled it back.
  const mayBeThere = installed.catch((error: unknown) => committing && !(error instanceof DatabaseError && error.severity === 'ERROR'))
  const ready = installed.then(async () => {
    if (over) return loaded
    await listener.listen(channel)
    listening = true
    if (over) listener.release(channel) // it ended while it listened
    return loaded
  })
  const removeTrigger = removal(listener, mayBeThere, options, async (c) => (await loaded).remove(c))
  let ending: Promise<void> | undefined
  const ended = (): Promise<void> =>
    (ending ??= (async () => {
      over = true
      options.signal?.removeEventListener('abort', onAbort)
      if (listening) listener.release(channel)
      await removeTrigger()
    })())
  const onAbort = () => void ended().catch(() => undefined) // the feed's next() or return() reports it
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (options.signal?.aborted) onAbort() // aborted already: no 'abort' event will come
  ready.catch(onAbort) // a failed setup: nothing listens; the trigger is removed if its install may have committed
  return { ready, ended }
}

/**
 * `connection` as the installers see it: `onCommit` is told when their COMMIT is sent. Its
 * transaction status is not passed on: the connection is the feed's own, fresh, never inside a
 * transaction block of someone else's.
 */
function watchCommit(connection: SqlRunner, onCommit: () => void): SqlRunner {
  return {
    query: (sql) => {
      if (sql === 'COMMIT') onCommit()
      return connection.query(sql)
    },
  }
}

/**
 * With `removeOnClose`, the removal of a feed's trigger, run once: when the feed ends, or by the
 * listener's close() (which waits for it, begun then or before, for a while, and reports a
 * failure as an 'error'). Not before the install settles, and not at all if no trigger may be
 * there (`mayBeThere`). A removal that fails rejects the feed's return() or last next() with
 * its error: the trigger is still there, and they say so.
 */
function removal(listener: FeedSource, mayBeThere: Promise<boolean>, options: Pick<ChangesOptions, 'removeOnClose'>, remove: (c: Connection) => Promise<void>): () => Promise<void> {
  if (!options.removeOnClose) return async () => {}
  let removing: Promise<void> | undefined
  const run = (): Promise<void> =>
    (removing ??= (async () => {
      try {
        if (await mayBeThere) await listener.remove(remove)
      } finally {
        unregister() // only now: close() waits for a removal under way, and cuts it at its deadline
      }
    })())
  const registered = listener.onClose(run)
  if (!registered) return async () => {} // made while the listener closes: its install is refused
  const unregister = registered
  return run
}
