/**
 * The acknowledgement ledger, driven by fast-check's model-based testing: any sequence of
 * deliveries, acknowledgements, keepalives and restarts, checked after every step against a
 * model that states the contract directly: the slot may forget exactly the end of the last
 * acknowledged completion, or a keepalive's position when nothing is owed.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { AckLedger } from '../../../src/replication/ledger.ts'

interface Model {
  /** Items of the current connection: their sequence number and what acknowledging them completes. */
  items: { seq: number; completes: bigint | undefined }[]
  nextSeq: number
  acked: number
  open: boolean
  flushed: bigint
  received: bigint
}

type Real = AckLedger

/** After every step. The model only ever raises `flushed`, so equality also says it never went back. */
function check(m: Model, r: Real): void {
  expect(r.flushed).toBe(m.flushed)
  expect(r.written).toBe(m.received > m.flushed ? m.received : m.flushed)
  const owed = m.items.some((i) => i.seq > m.acked)
  expect(r.settled).toBe(!owed && !m.open)
}

class Deliver implements fc.Command<Model, Real> {
  constructor(readonly completes: bigint | undefined, readonly open: boolean) {}
  check = () => true
  run(m: Model, r: Real): void {
    const seq = r.deliver(this.completes === undefined ? { open: this.open } : { completes: this.completes, open: this.open })
    expect(seq).toBe(m.nextSeq)
    m.items.push({ seq, completes: this.completes })
    m.nextSeq++
    m.open = this.open
    check(m, r)
  }
  toString = () => `deliver(${this.completes ?? '-'}, ${this.open ? 'open' : 'closed'})`
}

class Ack implements fc.Command<Model, Real> {
  /** Which delivered item, as a fraction of how many there are: the model picks it at run time. */
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.nextSeq > 1
  run(m: Model, r: Real): void {
    const seq = 1 + Math.floor(this.pick * (m.nextSeq - 1))
    r.ack(seq)
    if (seq > m.acked) {
      for (const item of m.items) if (item.seq <= seq && item.completes !== undefined && item.completes > m.flushed) m.flushed = item.completes
      m.items = m.items.filter((i) => i.seq > seq)
      m.acked = seq
    }
    check(m, r)
  }
  toString = () => `ack(${this.pick.toFixed(2)})`
}

class Keepalive implements fc.Command<Model, Real> {
  constructor(readonly walEnd: bigint) {}
  check = () => true
  run(m: Model, r: Real): void {
    r.idleAt(this.walEnd)
    if (this.walEnd > m.received) m.received = this.walEnd
    const owed = m.items.some((i) => i.seq > m.acked)
    if (!owed && !m.open && this.walEnd > m.flushed) m.flushed = this.walEnd
    check(m, r)
  }
  toString = () => `keepalive(${this.walEnd})`
}

class Saw implements fc.Command<Model, Real> {
  constructor(readonly walEnd: bigint) {}
  check = () => true
  run(m: Model, r: Real): void {
    r.saw(this.walEnd)
    if (this.walEnd > m.received) m.received = this.walEnd
    check(m, r)
  }
  toString = () => `saw(${this.walEnd})`
}

class ResumeAt implements fc.Command<Model, Real> {
  constructor(readonly confirmed: bigint) {}
  check = () => true
  run(m: Model, r: Real): void {
    r.resumeAt(this.confirmed)
    // A new connection's slot position counts only when nothing is owed: else it is not ours to take.
    const owed = m.items.some((i) => i.seq > m.acked)
    if (!owed && !m.open && this.confirmed > m.flushed) m.flushed = this.confirmed
    check(m, r)
  }
  toString = () => `resumeAt(${this.confirmed})`
}

class Restart implements fc.Command<Model, Real> {
  check = () => true
  run(m: Model, r: Real): void {
    r.restart()
    m.items = []
    m.acked = m.nextSeq - 1
    m.open = false
    check(m, r)
  }
  toString = () => 'restart()'
}

const lsn = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const commands = [
  fc.tuple(fc.option(lsn, { nil: undefined }), fc.boolean()).map(([completes, open]) => new Deliver(completes, open)),
  fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }).map((pick) => new Ack(pick)),
  lsn.map((walEnd) => new Keepalive(walEnd)),
  lsn.map((walEnd) => new Saw(walEnd)),
  fc.constant(new Restart()),
  lsn.map((confirmed) => new ResumeAt(confirmed)),
]

describe('AckLedger', () => {
  test('model: flushed is the last acknowledged completion or an idle keepalive, never less than before, after any sequence of steps', () => {
    fc.assert(
      fc.property(lsn, fc.commands(commands, { maxCommands: 60 }), (start, cmds) => {
        const model: Model = { items: [], nextSeq: 1, acked: 0, open: false, flushed: start, received: 0n }
        fc.modelRun(() => ({ model, real: new AckLedger(start) }), cmds)
      }),
      { numRuns: 300 },
    )
  })

  test('a change inside a transaction moves nothing; its commit, acknowledged, moves the slot to the commit end', () => {
    const ledger = new AckLedger()
    const begin = ledger.deliver({ open: true })
    const insert = ledger.deliver({ open: true })
    const commit = ledger.deliver({ completes: 0x200n, open: false })
    ledger.ack(insert)
    expect(ledger.flushed).toBe(0n)
    ledger.ack(begin) // older than the last acknowledged: nothing changes
    expect(ledger.flushed).toBe(0n)
    ledger.ack(commit)
    expect(ledger.flushed).toBe(0x200n)
  })

  test('a keepalive moves the slot only when nothing is owed and no transaction is open', () => {
    const ledger = new AckLedger(0x10n)
    ledger.idleAt(0x20n)
    expect(ledger.flushed).toBe(0x20n)
    const begin = ledger.deliver({ open: true })
    ledger.idleAt(0x30n) // delivered, not acknowledged
    expect(ledger.flushed).toBe(0x20n)
    ledger.ack(begin)
    ledger.idleAt(0x40n) // acknowledged, but the transaction is open
    expect(ledger.flushed).toBe(0x20n)
    expect(ledger.written).toBe(0x40n)
    const commit = ledger.deliver({ completes: 0x50n, open: false })
    ledger.ack(commit)
    ledger.idleAt(0x45n) // behind what is flushed: no step back
    expect(ledger.flushed).toBe(0x50n)
    ledger.idleAt(0x60n)
    expect(ledger.flushed).toBe(0x60n)
  })

  test('after a restart, acknowledging an item of the lost connection moves nothing: it comes again', () => {
    const ledger = new AckLedger()
    ledger.deliver({ open: true })
    const commit = ledger.deliver({ completes: 0x100n, open: false })
    ledger.restart()
    expect(ledger.settled).toBe(true)
    ledger.ack(commit)
    expect(ledger.flushed).toBe(0n)
  })

  test.each([0, -1, 1.5, 3, Number.NaN])('ack(%s) of an item never delivered is a RangeError', (seq) => {
    const ledger = new AckLedger()
    ledger.deliver({ open: true })
    ledger.deliver({ open: false })
    expect(() => ledger.ack(seq)).toThrow(new RangeError(`item ${seq} was never delivered (the last was 2)`))
  })
})
