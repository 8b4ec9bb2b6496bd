/**
 * Feeds bytes to a Framer the three ways h11 feeds its parsers: whole, one byte at a time,
 * and followed by more data. Each way must give the same messages.
 */
import { expect } from 'vitest'
import type { BackendMessage } from '../../src/protocol/backend/messages.ts'
import { Framer, type FramerOptions } from '../../src/protocol/framer.ts'

/** Every message in `chunks`, pushed in order. */
export function frame(chunks: Iterable<Uint8Array>, options?: FramerOptions): BackendMessage[] {
  const framer = new Framer(options)
  const out: BackendMessage[] = []
  for (const chunk of chunks) {
    framer.push(chunk)
    for (let m = framer.next(); m !== undefined; m = framer.next()) out.push(m)
  }
  return out
}

export function oneByteAtATime(wire: Uint8Array): Uint8Array[] {
  return [...wire].map((b) => Uint8Array.of(b))
}

/** Decodes `wire` (one message) three ways and returns the message. */
export function decodeThreeWays(wire: Uint8Array): BackendMessage {
  const whole = frame([wire])
  expect(whole).toHaveLength(1)
  expect(frame(oneByteAtATime(wire))).toEqual(whole)
  // Trailing data: the start of another message must be left alone, not read into this one.
  const framer = new Framer()
  const trailing = new Uint8Array(wire.length + 3)
  trailing.set(wire)
  trailing.set([0x5a, 0x00, 0x00], wire.length) // 'Z' and half a length
  framer.push(trailing)
  expect(framer.next()).toEqual(whole[0])
  expect(framer.next()).toBeUndefined()
  expect(framer.buffered).toBe(3)
  return whole[0]!
}
