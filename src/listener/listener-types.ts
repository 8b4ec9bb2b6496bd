/**
 * The listener's options, events and statistics: types only.
 */
import type { NoticeResponse } from '../protocol/backend/messages.ts'
import type { ConnectOptions } from '../protocol/io/connect.ts'
import type { BackoffOptions } from './backoff.ts'
import type { Watermarks } from './delivery.ts'
import type { ListenerState } from './lifecycle.ts'
import type { HeartbeatOptions } from './liveness.ts'
import type { Gap, Notification } from './subscription.ts'

type OwnHandlers = 'onNotification' | 'onNotice' | 'onParameterStatus' | 'onHandlerError' | 'onClose' | 'signal'

export interface ListenerOptions extends Omit<ConnectOptions, OwnHandlers>, Watermarks {
  /** Reconnect with backoff between these delays (ms), forever by default, each attempt bounded; false: never. */
  reconnect?: BackoffOptions | false
  /** A Sync every `interval` ms; `timeout` ms of silence while it waits means the link is dead. false: off. */
  heartbeat?: HeartbeatOptions | false
  /** After the first LISTEN, check that a NOTIFY comes back (a transaction pooler breaks LISTEN). */
  poolerCheck?: { timeout?: number } | false
}

export interface ListenerEvents {
  notification: Notification
  connected: { processId: number | undefined }
  disconnected: { error: Error | undefined; at: Date }
  /**
   * Before each wait and attempt to reconnect: which attempt it will be (1 after a loss, counting
   * up while attempts fail; maxAttempts is Infinity unless set), the wait before it in ms, and
   * why the connection or the previous attempt failed.
   */
  reconnecting: { attempt: number; maxAttempts: number; delay: number; error: Error | undefined }
  reconnected: Gap
  /** Every Gap: after a reconnect (with 'reconnected'), and for notifications held while nobody consumed that had to be dropped. */
  gap: Gap
  error: Error
  notice: NoticeResponse
}

export interface NotificationsOptions {
  /** Ends the iteration when aborted. */
  signal?: AbortSignal
  /** Only these channels (as given to listen()); default all. */
  channels?: Iterable<string>
  /** Include Gap items where notifications may have been lost; default true. */
  gaps?: boolean
}

export interface ListenerStats {
  /** Where the lifecycle is (src/listener/lifecycle.ts). */
  state: ListenerState
  connected: boolean
  reconnects: number
  notifications: number
  /** The longest queue now, and the longest there has been (backpressure keeps it near highWaterMark). */
  backlog: number
  maxBacklog: number
  paused: boolean
  pauses: number
  /** Consumers cut off for reading nothing for stallTimeout while they held the socket. */
  stalls: number
}

