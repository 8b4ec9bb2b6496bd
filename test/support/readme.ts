/**
 * README.md read as the tests need it: a section, its fenced code blocks (each with the prose
 * just before it, where the README says what a block shows), its inline code, and a command
 * line split into words as a POSIX shell splits them. Tests find each example here rather than
 * holding a copy of it, so that an edit to the README that breaks an example breaks a test.
 */
import { readFileSync } from 'node:fs'

export const readme = (): string => readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

/** The text under `heading` (e.g. '## The command line'), up to the next heading of its level or above. */
export function section(heading: string): string {
  const text = readme()
  const start = text.indexOf(`\n${heading}\n`)
  if (start === -1) throw new Error(`README.md has no "${heading}" section`)
  const level = /^#+/.exec(heading)![0].length
  const next = new RegExp(`\\n#{1,${level}} `, 'g')
  next.lastIndex = start + 1
  const end = next.exec(text)?.index
  return text.slice(start, end)
}

export interface Block {
  /** the fence's language, '' for none */
  language: string
  lines: string[]
  /** the text between the previous block (or the section's start) and this one */
  before: string
  /** its place among the blocks of the text it was found in */
  index: number
}

/** Each fenced code block of `text`, in order. */
export function blocks(text: string): Block[] {
  const found: Block[] = []
  let after = 0
  for (const match of text.matchAll(/^```([a-z]*)\n([\s\S]*?)^```$/gm)) {
    found.push({ language: match[1]!, lines: match[2]!.trimEnd().split('\n'), before: text.slice(after, match.index), index: found.length })
    after = match.index + match[0].length
  }
  return found
}

/** The one block that `is` picks out; fails, naming `what`, if there is none or more than one. */
export function theBlock(text: string, what: string, is: (block: Block) => boolean): Block {
  const chosen = blocks(text).filter(is)
  if (chosen.length !== 1) throw new Error(`README.md: expected one block of ${what}, found ${chosen.length}`)
  return chosen[0]!
}

/** The block right after `block` in `text`. */
export function blockAfter(text: string, block: Block): Block {
  const next = blocks(text)[block.index + 1]
  if (!next) throw new Error(`README.md: no block after the one that starts ${JSON.stringify(block.lines[0])}`)
  return next
}

/**
 * Each `inline code` span of `text` outside its fenced blocks that starts with `prefix`, a line
 * break in it read as a space (as Markdown does).
 */
export function inlineCode(text: string, prefix: string): string[] {
  const prose = text.replace(/^```[a-z]*\n[\s\S]*?^```$/gm, '')
  return [...prose.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\s*\n\s*/g, ' ')).filter((code) => code.startsWith(prefix))
}

/**
 * A command line's words as a POSIX shell makes them (Shell Command Language, 2.2 Quoting):
 * '...' keeps everything, "..." everything but \ before $ ` " \ and newline, a bare \ escapes
 * the next character. Anything a shell would expand, redirect or treat as syntax ($, `, *, ?,
 * [, <, >, |, ;, &, parentheses, a leading ~) is refused: an example that needs it needs a shell, and the test must say so.
 */
export function shellWords(line: string): string[] {
  const words: string[] = []
  let word: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word), (word = undefined)
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end === -1) throw new SyntaxError(`an unterminated ' in: ${line}`)
      word = (word ?? '') + line.slice(i + 1, end)
      i = end
    } else if (c === '"') {
      word ??= ''
      for (i++; line[i] !== '"'; i++) {
        if (i >= line.length) throw new SyntaxError(`an unterminated " in: ${line}`)
        if (line[i] === '$' || line[i] === '`') throw new SyntaxError(`a README example needs a shell to expand it: ${line}`)
        if (line[i] === '\\' && '$`"\\\n'.includes(line[i + 1]!)) i++
        word += line[i]
      }
    } else if (c === '\\') {
      word = (word ?? '') + line[++i]!
    } else if ('$`*?[<>|;&()'.includes(c) || (c === '~' && word === undefined)) {
      throw new SyntaxError(`a README example needs a shell to expand it: ${line}`)
    } else {
      word = (word ?? '') + c
    }
  }
  if (word !== undefined) words.push(word)
  return words
}
