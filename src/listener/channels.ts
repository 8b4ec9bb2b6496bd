/**
 * Who listens on which channel: the user (listen()), change feeds (each counted), or both. The
 * server must LISTEN on every channel either uses; a channel only feeds use is hidden from
 * `listener.channels`, from handlers and from iterators without `channels`; and a channel is
 * UNLISTENed only when nobody uses it any more, so unlisten() never makes a feed deaf. Pure.
 */

export class ChannelBook {
  /** Every channel the server must listen on: LISTENed again, in one round trip, after a reconnect. */
  readonly listened = new Set<string>()
  /** The channels only feeds use. A live set: subscriptions and delivery read it as it changes. */
  readonly hidden = new Set<string>()
  readonly #user = new Set<string>()
  readonly #feeds = new Map<string, number>()

  /** The channels listen() listened on. */
  get user(): ReadonlySet<string> {
    return this.#user
  }

  /** listen(): returns how to undo it if the LISTEN fails. */
  addUser(name: string): () => void {
    if (this.#user.has(name)) return () => {}
    this.#user.add(name)
    this.#sync(name)
    return () => {
      this.#user.delete(name)
      this.#sync(name)
    }
  }

  /** A feed's LISTEN: returns how to undo it if the LISTEN fails. */
  addFeed(name: string): () => void {
    this.#feeds.set(name, (this.#feeds.get(name) ?? 0) + 1)
    this.#sync(name)
    return () => this.removeFeed(name)
  }

  /** unlisten(): true if the server must UNLISTEN (no feed uses the channel). */
  removeUser(name: string): boolean {
    this.#user.delete(name)
    this.#sync(name)
    return !this.listened.has(name)
  }

  /**
   * A feed ended: true if the server must UNLISTEN (no other feed, and not the user's). Until
   * forget(), the channel stays hidden: what the server sent before the UNLISTEN took effect is
   * the feed's plumbing still, for nobody else.
   */
  removeFeed(name: string): boolean {
    const uses = this.#feeds.get(name) ?? 0
    if (uses <= 1) this.#feeds.delete(name)
    else this.#feeds.set(name, uses - 1)
    const hidden = this.hidden.has(name)
    this.#sync(name)
    if (this.listened.has(name)) return false
    if (hidden) this.hidden.add(name)
    return true
  }

  /** The UNLISTEN of a feed's channel was answered: nothing more can come on it, unless it is listened on again. */
  forget(name: string): void {
    if (!this.listened.has(name)) this.hidden.delete(name)
  }

  /** unlistenAll(): forgets the user's channels; returns the feeds', which must stay listened on. */
  clearUser(): string[] {
    const users = [...this.#user]
    this.#user.clear()
    for (const name of users) this.#sync(name)
    return [...this.#feeds.keys()]
  }

  #sync(name: string): void {
    const user = this.#user.has(name)
    const feed = this.#feeds.has(name)
    if (user || feed) this.listened.add(name)
    else this.listened.delete(name)
    if (feed && !user) this.hidden.add(name)
    else this.hidden.delete(name)
  }
}
