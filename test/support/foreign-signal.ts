/**
 * An AbortController from another realm: a small polyfill run in a fresh vm context, as an
 * abort-controller package, jsdom or an iframe would make one. Its signal is no instanceof
 * AbortSignal here, and its addEventListener() is not Node's: it honours `once` and ignores
 * the `signal` option, as event-target-shim (the abort-controller package's) does. Node's vm
 * contexts have no AbortController of their own (only the language's globals), hence the polyfill.
 */
import { runInNewContext } from 'node:vm'

export interface ForeignAbortController {
  readonly signal: AbortSignal
  abort(reason?: unknown): void
  /** How many 'abort' listeners the signal holds: a caller that is done must leave none. */
  listenerCount(): number
}

const polyfill = `
class AbortSignal {
  aborted = false
  reason = undefined
  listeners = []
  addEventListener(type, listener, options) {
    if (type !== 'abort' || this.listeners.some((l) => l.listener === listener)) return
    this.listeners.push({ listener, once: typeof options === 'object' && options !== null && options.once === true })
  }
  removeEventListener(type, listener) {
    if (type === 'abort') this.listeners = this.listeners.filter((l) => l.listener !== listener)
  }
}
class AbortController {
  signal = new AbortSignal()
  abort(reason) {
    const signal = this.signal
    if (signal.aborted) return
    signal.aborted = true
    signal.reason = reason === undefined ? new Error('This operation was aborted') : reason
    for (const l of [...signal.listeners]) {
      if (l.once) signal.removeEventListener('abort', l.listener)
      const event = { type: 'abort', target: signal }
      typeof l.listener === 'function' ? l.listener.call(signal, event) : l.listener.handleEvent(event)
    }
  }
  listenerCount() {
    return this.signal.listeners.length
  }
}
new AbortController()
`

/** A new controller whose class, and its signal's, belong to a realm of their own. */
export function foreignAbortController(): ForeignAbortController {
  return runInNewContext(polyfill) as ForeignAbortController
}
