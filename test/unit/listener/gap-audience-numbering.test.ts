/**
 * A held Gap's audience names its own 'gap' emit by number (events.ts numbers every emit): a
 * registration that emit reached was called by it or a later one. The emit just before it can
 * have called the very registration an earlier handler then removes before the Gap's own event
 * reaches it, so the audience must not take the previous number for its own. Pure: Delivery
 * and EventHub, no socket.
 */
import { expect, test } from 'vitest'
import type { Gap, Notification } from '../../../src/listener/subscription.ts'
import { deliverySetup } from '../../support/delivery.ts'

const note = (payload: string): Notification => ({ type: 'NotificationResponse', processId: 1, channel: 'a', payload })
const gap = (n: number): Gap => ({ type: 'Gap', from: new Date(10 * n), to: new Date(10 * n + 5), cause: undefined })

test("two reconnects in a row, a 'gap' handler resubscribed by an earlier one during the second: it hears the second Gap, told once a 'notification' handler comes", () => {
  const { delivery, events } = deliverySetup({ listened: ['a'], errors: 'throw' })
  delivery.deliver(note('1')) // held: nobody consumes 'a' yet, so the Gaps are held too
  const heard: string[] = []
  const g = (gap: Gap) => void heard.push(`Gap ${+gap.from}-${+gap.to} to g`)
  let offG = () => {}
  let reconnects = 0
  events.on('gap', () => {
    if (++reconnects !== 2) return
    offG() // the second Gap's event skips the old registration, which the first one called
    offG = events.on('gap', g)
  })
  offG = events.on('gap', g)
  delivery.gap(gap(1)) // heard by g, live: the emit just before the next
  delivery.gap(gap(2)) // held with the first, one Gap: the same registrations came to both
  expect(heard).toEqual(['Gap 10-15 to g'])
  events.on('notification', (n) => void heard.push(n.payload))
  delivery.handlerAdded()
  // The merged Gap again, first part included: more, never less (held.ts).
  expect(heard).toEqual(['Gap 10-15 to g', '1', 'Gap 10-25 to g'])
})
