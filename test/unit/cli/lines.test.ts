/**
 * Lines of standard input for `pglisten notify`: numbered, split the same whatever the chunks,
 * invalid UTF-8 and runaway lines refused by line number.
 */
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { InputError } from '../../../src/cli/errors.ts'
import { readLines, type Line } from '../../../src/cli/lines.ts'

async function lines(chunks: (Uint8Array | string)[], maxBytes = 1 << 20): Promise<Line[]> {
  const out: Line[] = []
  for await (const line of readLines((async function* () { yield* chunks })(), maxBytes)) out.push(line)
  return out
}

const bytes = (text: string) => new TextEncoder().encode(text)

/** `whole` cut at the given offsets. */
function cut(whole: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((n) => n % (whole.length + 1)))].sort((a, b) => a - b)
  const parts: Uint8Array[] = []
  let from = 0
  for (const point of [...points, whole.length]) {
    parts.push(whole.subarray(from, point))
    from = point
  }
  return parts
}

describe('readLines', () => {
  test('numbered from 1; an empty line is a line; the last needs no newline; \\r\\n ends a line', async () => {
    expect(await lines(['one\n\nthree\r\nfour'])).toEqual([
      { number: 1, text: 'one' },
      { number: 2, text: '' },
      { number: 3, text: 'three' },
      { number: 4, text: 'four' },
    ])
  })

  test('the newline that ends the input starts no line; no input, no lines', async () => {
    expect(await lines(['a\n'])).toEqual([{ number: 1, text: 'a' }])
    expect(await lines([])).toEqual([])
  })

  test('a character split between chunks is decoded whole', async () => {
    const whole = bytes('é✓🔔\n')
    expect(await lines([...whole].map((b) => Uint8Array.of(b)))).toEqual([{ number: 1, text: 'é✓🔔' }])
  })

  propertyTest.prop([fc.array(fc.string({ unit: 'binary' }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 })])(
    'lines do not depend on chunk boundaries',
    async (texts, offsets) => {
      const whole = bytes(texts.map((t) => t.replaceAll('\n', ' ').replaceAll('\r', ' ')).join('\n'))
      expect(await lines(cut(whole, offsets))).toEqual(await lines([whole]))
    },
  )

  test('U+FEFF at the start of a line is text like any other, on the first line and on every other', async () => {
    const read = await lines([bytes('\uFEFFfirst\nsecond\n\uFEFFthird\n\uFEFF\uFEFFfourth\n\uFEFF\n')])
    expect(read.map((line) => line.text)).toEqual(['\uFEFFfirst', 'second', '\uFEFFthird', '\uFEFF\uFEFFfourth', '\uFEFF'])
  })

  // Half of them begin with U+FEFF, which a decoder left to its default would take for a BOM.
  const lineText = fc.tuple(fc.constantFrom('', '\uFEFF'), fc.string({ unit: 'binary' })).map(([start, rest]) => start + rest.replace(/[\r\n]/g, ' '))
  propertyTest.prop([fc.array(lineText, { maxLength: 8 })])(
    'every line is read back exactly as written, each ended by a newline',
    async (texts) => {
      const read = await lines([bytes(texts.map((text) => `${text}\n`).join(''))])
      expect(read.map((line) => line.text)).toEqual(texts)
    },
  )

  test('bytes that are not UTF-8 are refused, naming the line', async () => {
    const input = [bytes('fine\nbad '), Uint8Array.of(0xc3), bytes('\nnever read\n')]
    await expect(lines(input)).rejects.toThrow(new InputError('standard input line 2: not valid UTF-8'))
  })

  test('a line longer than maxBytes is refused before its end is read', async () => {
    async function* endless() {
      yield bytes('short\n')
      for (;;) yield new Uint8Array(1024).fill(0x78)
    }
    const reading = (async () => {
      for await (const _ of readLines(endless(), 4096));
    })()
    await expect(reading).rejects.toThrow('standard input line 2: longer than 4096 bytes')
  })

  test('a line begun in one chunk and ended in another is read whole, and so is the line after it in that chunk', async () => {
    expect(await lines(['ab', 'cd\nef', 'g\n'])).toEqual([
      { number: 1, text: 'abcd' },
      { number: 2, text: 'efg' },
    ])
  })

  test('a line of exactly maxBytes is taken; one byte more is refused', async () => {
    expect(await lines(['ab', 'c', '\n'], 3)).toEqual([{ number: 1, text: 'abc' }])
    expect(await lines(['x\nab', 'c'], 3)).toEqual([
      { number: 1, text: 'x' },
      { number: 2, text: 'abc' },
    ])
    await expect(lines(['ab', 'cd', '\n'], 3)).rejects.toThrow(new InputError('standard input line 1: longer than 3 bytes'))
  })
})
