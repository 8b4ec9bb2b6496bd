/**
 * The changes a replication stream has decoded and the application has not yet taken: a FIFO
 * that lets go of each item as it is taken and gives back the array's room as it goes, so a
 * consumer that keeps up only just (never letting it run empty) does not make it grow for ever.
 * Pure; imports nothing.
 */
export class ReadAhead<T> {
  #items: (T | undefined)[] = []
  /** Where the next item to take is; everything before it has been taken. */
  #head = 0

  /** Items waiting to be taken. */
  get size(): number {
    return this.#items.length - this.#head
  }

  /** Slots the array holds, taken ones included: what it costs; for tests. */
  get capacity(): number {
    return this.#items.length
  }

  push(item: T): void {
    this.#items.push(item)
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined // the item is the caller's now, not ours to keep alive
    if (this.#head === this.#items.length) this.clear()
    // Dropping the taken front costs a copy of what is left; doing it only once the front is at
    // least half the array (and not tiny) keeps each item's share of that cost constant.
    else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  clear(): void {
    this.#items = []
    this.#head = 0
  }
}
