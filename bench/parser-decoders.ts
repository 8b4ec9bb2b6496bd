/**
 * The decoders the parser benchmark compares. Each takes the whole input and a chunk size,
 * feeds the chunks as a socket would, and returns the sum of payload lengths plus one per
 * notification, so that the work cannot be skipped and the result can be checked.
 */
import type { Buffer } from 'node:buffer'
import { Parser } from 'pg-protocol/dist/parser.js'
import { Framer, type FramerOptions } from '../src/protocol/framer.ts'
import { allocateBuffer, decodeLatin1Fast, decodeUtf8Fast } from '../src/protocol/io/node-bytes.ts'
import { ShortStrings } from '../src/protocol/bytes/short-strings.ts'

type Decoder = (wire: Buffer, chunkSize: number) => number

function pglistenWith(options: FramerOptions): Decoder {
  return (wire, chunkSize) => {
    const framer = new Framer(options)
    let checksum = 0
    for (let at = 0; at < wire.length; at += chunkSize) {
      framer.push(wire.subarray(at, at + chunkSize))
      for (let m = framer.next(); m !== undefined; m = framer.next()) {
        if (m.type === 'NotificationResponse') checksum += m.payload.length + 1
      }
    }
    return checksum
  }
}

const pgProtocol: Decoder = (wire, chunkSize) => {
  const parser = new Parser()
  let checksum = 0
  for (let at = 0; at < wire.length; at += chunkSize) {
    parser.parse(wire.subarray(at, at + chunkSize), (m) => {
      if (m.name === 'notification') checksum += (m as unknown as { payload: string }).payload.length + 1
    })
  }
  return checksum
}

export const decoders = {
  /** As a Node connection uses it: Buffer storage and Buffer's UTF-8 and Latin-1 decoding. */
  'pglisten': pglistenWith({ decodeText: decodeUtf8Fast, ...(decodeLatin1Fast ? { shortStrings: () => new ShortStrings(decodeLatin1Fast!) } : {}), allocate: allocateBuffer }),
  /** The portable defaults (TextDecoder, Uint8Array), as on Workers or Deno without node:buffer. */
  'pglisten (portable)': pglistenWith({}),
  'pg-protocol': pgProtocol,
}

export type DecoderName = keyof typeof decoders
