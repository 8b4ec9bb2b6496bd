/**
 * ChannelBook (src/listener/channels.ts): who listens on which channel, and so what the server
 * must LISTEN on, what is hidden, and when an UNLISTEN may be sent.
 */
import { describe, expect, test } from 'vitest'
import { ChannelBook } from '../../../src/listener/channels.ts'

const state = (book: ChannelBook) => ({ listened: [...book.listened].sort(), hidden: [...book.hidden].sort(), user: [...book.user].sort() })

describe('ChannelBook', () => {
  test("a feed's channel is listened on and hidden; the user's listen() makes it visible, unlisten() hides it again without UNLISTEN", () => {
    const book = new ChannelBook()
    book.addFeed('f')
    expect(state(book)).toEqual({ listened: ['f'], hidden: ['f'], user: [] })
    book.addUser('f')
    expect(state(book)).toEqual({ listened: ['f'], hidden: [], user: ['f'] })
    expect(book.removeUser('f')).toBe(false) // the feed still listens: no UNLISTEN
    expect(state(book)).toEqual({ listened: ['f'], hidden: ['f'], user: [] })
    expect(book.removeFeed('f')).toBe(true)
    // Hidden still, until the UNLISTEN is answered: what was in flight is no one else's.
    expect(state(book)).toEqual({ listened: [], hidden: ['f'], user: [] })
    book.forget('f')
    expect(state(book)).toEqual({ listened: [], hidden: [], user: [] })
  })

  test('forget() leaves a channel listened on again meanwhile as it is', () => {
    const book = new ChannelBook()
    book.addFeed('f')
    book.removeFeed('f')
    book.addFeed('f')
    book.forget('f')
    expect(state(book)).toEqual({ listened: ['f'], hidden: ['f'], user: [] })
    book.removeFeed('f')
    book.addUser('f')
    book.forget('f')
    expect(state(book)).toEqual({ listened: ['f'], hidden: [], user: ['f'] })
  })

  test('feeds are counted: the channel is UNLISTENed only when the last feed on it ends, and never while the user listens', () => {
    const book = new ChannelBook()
    book.addFeed('f')
    book.addFeed('f')
    expect(book.removeFeed('f')).toBe(false)
    expect(state(book).hidden).toEqual(['f'])
    book.addUser('f')
    expect(book.removeFeed('f')).toBe(false) // the user's now
    expect(state(book)).toEqual({ listened: ['f'], hidden: [], user: ['f'] })
    expect(book.removeUser('f')).toBe(true)
  })

  test("undo forgets only what the failed LISTEN added", () => {
    const book = new ChannelBook()
    book.addUser('u')
    book.addUser('u')() // already the user's: nothing to undo
    expect(state(book)).toEqual({ listened: ['u'], hidden: [], user: ['u'] })
    const undoFeed = book.addFeed('u')
    undoFeed()
    expect(state(book)).toEqual({ listened: ['u'], hidden: [], user: ['u'] })
    book.addFeed('f')
    const undoUser = book.addUser('f')
    undoUser()
    expect(state(book)).toEqual({ listened: ['f', 'u'], hidden: ['f'], user: ['u'] })
  })

  test("clearUser() forgets the user's channels and names the feeds', which stay listened on", () => {
    const book = new ChannelBook()
    book.addUser('a')
    book.addUser('shared')
    book.addFeed('shared')
    book.addFeed('f')
    expect(book.clearUser().sort()).toEqual(['f', 'shared'])
    expect(state(book)).toEqual({ listened: ['f', 'shared'], hidden: ['f', 'shared'], user: [] })
  })
})
