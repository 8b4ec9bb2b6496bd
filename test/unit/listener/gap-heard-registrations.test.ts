/**
 * A Gap held for a consumer not yet come notes which 'gap' handlers heard it, so that the first
 * 'notification' handler's arrival tells the others only (held.ts): each 'gap' handler hears
 * each Gap once, live or from what is held, never both and never neither. Here the handlers
 * change while the Gap's 'gap' event is under way. Pure: Delivery and EventHub, no socket.
 */
import { expect, test } from 'vitest'
import type { Gap, Notification } from '../../../src/listener/subscription.ts'
import { deliverySetup } from '../../support/delivery.ts'

const note = (payload: string): Notification => ({ type: 'NotificationResponse', processId: 1, channel: 'a', payload })
const gap: Gap = { type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined }

function setup() {
  const { delivery, events } = deliverySetup({ listened: ['a'], errors: 'throw' })
  delivery.deliver(note('1')) // held: nobody consumes 'a' yet, so the Gap is held too
  /** As the listener does on a reconnect: what is held notes who hears it, then the event. */
  const reconnect = () => {
    delivery.gap(gap)
  }
  /** The first 'notification' handler, as listener.on() adds it. */
  const consumer = (heard: string[]) => {
    events.on('notification', (n) => void heard.push(n.payload))
    delivery.handlerAdded()
  }
  return { delivery, events, reconnect, consumer }
}

// Found by review: the removed flag skips the old registration in the event under way, and
// the held Gap counted the function as having heard it, so its new registration never did.
test("a 'gap' handler removed and added again by an earlier one during the Gap's event hears the Gap once, when a 'notification' handler comes", () => {
  const { events, reconnect, consumer } = setup()
  const heard: string[] = []
  const g = () => void heard.push('Gap to g')
  let offG = () => {}
  events.on('gap', () => {
    offG()
    offG = events.on('gap', g)
  })
  offG = events.on('gap', g)
  reconnect()
  expect(heard).toEqual([]) // skipped in the event under way: a new registration hears the next
  consumer(heard)
  expect(heard).toEqual(['1', 'Gap to g'])
})

test("a 'gap' handler removed by an earlier one before the Gap's event reached it, added again later, hears the Gap once when a 'notification' handler comes", () => {
  const { events, reconnect, consumer } = setup()
  const heard: string[] = []
  const g = () => void heard.push('Gap to g')
  let offG = () => {}
  events.on('gap', () => offG())
  offG = events.on('gap', g)
  reconnect()
  events.on('gap', g)
  consumer(heard)
  expect(heard).toEqual(['1', 'Gap to g'])
})

test("a 'gap' handler that adds the first 'notification' handler: the 'gap' handlers after it hear the Gap once, live", () => {
  const { events, reconnect, consumer } = setup()
  const heard: string[] = []
  events.on('gap', () => consumer(heard))
  events.on('gap', () => void heard.push('Gap to the second'))
  reconnect()
  expect(heard).toEqual(['1', 'Gap to the second'])
})

test("a 'gap' handler that heard the Gap, removed by itself and added again, is not told it twice", () => {
  const { events, reconnect, consumer } = setup()
  const heard: string[] = []
  let offG = () => {}
  const g = () => {
    heard.push('Gap to g')
    offG()
    offG = events.on('gap', g)
  }
  offG = events.on('gap', g)
  reconnect()
  consumer(heard)
  expect(heard).toEqual(['Gap to g', '1'])
})

test("the same function on 'gap' twice, one registration removed by an earlier handler before the event reached it: it hears the Gap once live and is not told it again", () => {
  const { events, reconnect, consumer } = setup()
  const heard: string[] = []
  const g = () => void heard.push('Gap to g')
  let offSecond = () => {}
  events.on('gap', () => offSecond())
  events.on('gap', g)
  offSecond = events.on('gap', g)
  reconnect()
  consumer(heard)
  expect(heard).toEqual(['Gap to g', '1'])
})

// Found by review: what was held went out to the handlers one by one, and once the last of
// them removed itself (a handler that hears once), the rest went to nobody: neither delivered
// nor held, though a notification coming a moment later would have been held.
test("the first 'notification' handler removes itself at the first held notification: the rest, and the Gap among them, wait for the next consumer", () => {
  const { delivery, events, reconnect } = setup()
  delivery.deliver(note('2'))
  reconnect()
  delivery.deliver(note('3'))
  const heard: string[] = []
  const off = events.on('notification', (n) => {
    heard.push(`once ${n.payload}`)
    off()
  })
  delivery.handlerAdded()
  expect(heard).toEqual(['once 1'])
  expect(delivery.backlog()).toBe(2) // 2 and 3, held again: they still count for backpressure
  events.on('gap', () => void heard.push('Gap to a later handler'))
  events.on('notification', (n) => void heard.push(n.payload))
  delivery.handlerAdded()
  expect(heard).toEqual(['once 1', '2', 'Gap to a later handler', '3'])
})
