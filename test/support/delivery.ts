/**
 * Delivery as the listener wires it, without a socket: an EventHub<ListenerEvents> whose
 * handler errors are collected (or thrown), a Delivery on it with the channels the tests notify
 * on as listened, `setReading` recorded as the socket would be told, and consumers made as
 * Listener.on() and Listener.notifications() make them. Shared by the unit tests of what is held
 * and released (test/unit/listener/delivery.test.ts, held-release-*.test.ts, gap-heard-*.test.ts).
 * Imports src/listener only.
 */
import { Delivery, type Watermarks } from '../../src/listener/delivery.ts'
import { EventHub } from '../../src/listener/events.ts'
import type { ListenerEvents } from '../../src/listener/listener-types.ts'
import { Subscription, type Notification } from '../../src/listener/subscription.ts'

export interface DeliverySetup extends Watermarks {
  /** The channels listened on, as the listener's book would say. */
  listened?: string[]
  /**
   * 'collect': handler errors and 'error' events go to `errors`, as a user's 'error' handler
   * would see them. 'throw': a handler's error is thrown, so a test fails on it at once.
   */
  errors?: 'collect' | 'throw'
  /**
   * When `on()` gives a new handler what is held: 'microtask' once on() has returned, as
   * Listener.on() does (so tests can act between); 'now', to test the release itself.
   */
  release?: 'microtask' | 'now'
  /** Whether the hub tells Delivery when handlers' promises settle (the listener does). */
  settled?: boolean
}

export type SubscriptionOptions = ConstructorParameters<typeof Subscription>[0]

export function deliverySetup(options: DeliverySetup = {}) {
  const { listened = ['a', 'b'], errors: onError = 'collect', release = 'microtask', settled = true, ...watermarks } = options
  const errors: Error[] = []
  let delivery!: Delivery
  const handlerError = onError === 'collect'
    ? (e: unknown) => void errors.push(e as Error)
    : (e: unknown) => {
      throw e
    }
  const events = new EventHub<ListenerEvents>(handlerError, settled ? () => delivery.settled() : undefined)
  if (onError === 'collect') events.on('error', (e) => void errors.push(e))
  delivery = new Delivery(events, watermarks)
  delivery.listened = new Set(listened)
  const reading: boolean[] = []
  delivery.attach((paused) => reading.push(!paused))
  /** As Listener.on() adds a 'notification' handler: the handler now, what was held per `release`. */
  const on = (handler: (n: Notification) => unknown) => {
    const off = events.on('notification', handler)
    if (release === 'now') delivery.handlerAdded()
    else queueMicrotask(() => delivery.handlerAdded())
    return off
  }
  /** As Listener.notifications() makes an iterator: on these channels (all if none), or with these options. */
  const iterator = (channels: string[] | SubscriptionOptions = {}) => {
    const extra = Array.isArray(channels) ? { channels: new Set(channels) } : channels
    const s = new Subscription({ ...extra, onDrain: (sub) => delivery.drained(sub) })
    delivery.subscribe(s)
    return s
  }
  /** Whether the socket is being read, as last told. */
  const isReading = () => reading.at(-1) ?? true
  return { delivery, events, errors, reading, isReading, on, iterator }
}
