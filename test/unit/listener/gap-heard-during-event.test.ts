/**
 * A Gap whose 'gap' event is under way when what is held goes to a 'notification' handler (one
 * added by a 'gap' handler, released at once by an iterator it makes): the 'gap' handlers the
 * event has yet to reach are counted as hearing it, so none is told it from what is held. One
 * of them removed before the event reaches it must still hear the Gap once, as it does when
 * the release comes after the event (gap-heard-registrations.test.ts). Pure: no socket.
 */
import { expect, test } from 'vitest'
import { Subscription, type Gap } from '../../../src/listener/subscription.ts'
import { deliverySetup } from '../../support/delivery.ts'

function setup() {
  const { delivery, events } = deliverySetup({ errors: 'throw' })
  delivery.deliver({ type: 'NotificationResponse', processId: 1, channel: 'a', payload: '1' }) // held: nobody consumes yet
  return { delivery, events }
}

test("a 'gap' handler that adds a 'notification' handler, makes an iterator, then removes and re-adds a later 'gap' handler: that one hears the Gap once", async () => {
  const { delivery, events } = setup()
  const heard: string[] = []
  const g = () => void heard.push('Gap to g')
  let offG = () => {}
  let first = true
  events.on('gap', () => {
    if (!first) return
    first = false
    // As listener.on() does: the release is due once on() has returned...
    events.on('notification', (n) => void heard.push(n.payload))
    queueMicrotask(() => delivery.handlerAdded())
    // ...but an iterator made now releases what is held at once (delivery.subscribe).
    delivery.subscribe(new Subscription({ channels: new Set(['b']), onDrain: (s) => delivery.drained(s) }))
    offG() // g resubscribed: its old registration is skipped by the event under way
    offG = events.on('gap', g)
  })
  offG = events.on('gap', g)
  const gap: Gap = { type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined }
  delivery.gap(gap) // as the listener does on a reconnect: what is held notes who hears it, then the event
  await new Promise<void>((resolve) => queueMicrotask(resolve)) // the handler's release, due after on()
  expect(heard).toEqual(['1', 'Gap to g'])
})

test("the same, with the later 'gap' handler left alone and a newcomer added: each hears the Gap once, the newcomer before the next notification", async () => {
  const { delivery, events } = setup()
  const heard: string[] = []
  let first = true
  events.on('gap', () => {
    if (!first) return
    first = false
    events.on('notification', (n) => void heard.push(n.payload))
    queueMicrotask(() => delivery.handlerAdded())
    delivery.subscribe(new Subscription({ channels: new Set(['b']), onDrain: (s) => delivery.drained(s) }))
    events.on('gap', () => void heard.push('Gap to the newcomer'))
  })
  events.on('gap', () => void heard.push('Gap to g'))
  const gap: Gap = { type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined }
  delivery.gap(gap)
  delivery.deliver({ type: 'NotificationResponse', processId: 1, channel: 'a', payload: '2' }) // heard while LISTENing again, delivered on the same turn
  await new Promise<void>((resolve) => queueMicrotask(resolve))
  expect(heard).toEqual(['1', 'Gap to g', 'Gap to the newcomer', '2'])
})

test("the same, with an older held Gap told to that later 'gap' handler during the event: that call is not taken for the live Gap's, which it still hears once", async () => {
  const { delivery, events } = setup()
  const older: Gap = { type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined }
  delivery.gap(older) // nobody hears it yet: it is held with '1'
  const heard: string[] = []
  const g = (gap: Gap) => void heard.push(`Gap to g, to ${gap.to.getTime()}`)
  let offG = () => {}
  let first = true
  events.on('gap', () => {
    if (!first) return
    first = false
    events.on('notification', (n) => void heard.push(n.payload))
    queueMicrotask(() => delivery.handlerAdded())
    delivery.subscribe(new Subscription({ channels: new Set(['b']), onDrain: (s) => delivery.drained(s) })) // g hears the older Gap now
    offG()
    offG = events.on('gap', g)
  })
  offG = events.on('gap', g)
  const gap: Gap = { type: 'Gap', from: new Date(2), to: new Date(3), cause: undefined }
  delivery.gap(gap)
  await new Promise<void>((resolve) => queueMicrotask(resolve))
  expect(heard).toEqual(['1', 'Gap to g, to 1', 'Gap to g, to 3'])
})
