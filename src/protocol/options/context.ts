/**
 * The facts about the process that libpq's defaults consult (environment, home folder, OS user),
 * asked for lazily: only when a setting needs one, at most once, and a refusal (Deno throws
 * NotCapable without --allow-env or --allow-sys) makes the fact unknown, with one warning, never
 * a failure. Pure: the caller hands in the getters. Imports types.ts only.
 */
import type { EnvironmentSource, FactSource } from './types.ts'

/** A fact asked for at most once; a getter that throws yields undefined and one warning. */
export function lazyFact<T>(source: FactSource<T> | undefined, what: string, warn?: (message: string) => void): () => T | undefined {
  let asked = false
  let value: T | undefined
  return () => {
    if (!asked) {
      asked = true
      try {
        value = typeof source === 'function' ? (source as () => T | undefined)() : source
      } catch (error) {
        warn?.(`${what} is not available (${describe(error)}); going on without it`)
      }
    }
    return value
  }
}

/**
 * One variable at a time from a record or a getter. A getter that throws for a variable (Deno
 * grants --allow-env per variable) makes it unset; the first refusal is told, the rest are not.
 */
export function environmentReader(source: EnvironmentSource | undefined, warn?: (message: string) => void): (name: string) => string | undefined {
  if (source === undefined) return () => undefined
  if (typeof source !== 'function') return (name) => source[name]
  let warned = false
  return (name) => {
    try {
      return source(name)
    } catch (error) {
      if (!warned) {
        warned = true
        warn?.(`the environment variable ${name} cannot be read (${describe(error)}); PG* variables that cannot be read count as unset`)
      }
      return undefined
    }
  }
}

/**
 * A warning sink that says each message once: a listener reconnects for as long as it runs,
 * and the same refusal (a home folder Deno does not grant, a password file others can read)
 * would otherwise be told at every attempt. Remembers up to `limit` messages, then lets new
 * ones repeat rather than grow without bound.
 */
export function onceEach(emit: (message: string) => void, limit = 100): (message: string) => void {
  const told = new Set<string>()
  return (message) => {
    if (told.has(message)) return
    if (told.size < limit) told.add(message)
    emit(message)
  }
}

/** An error in a few words: Deno's NotCapable or PermissionDenied and its message. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message
}
