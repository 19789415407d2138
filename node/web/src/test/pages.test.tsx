import { render, screen, waitFor } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import { afterEach, describe, expect, it, vi } from 'vitest'

// jsdom has no layout, so the virtualizer would render nothing: render every row instead.
vi.mock('@tanstack/react-virtual', () => ({
  useVirtualizer: (o: { count: number; estimateSize: () => number }) => ({
    getVirtualItems: () => Array.from({ length: o.count }, (_, i) => ({ index: i, start: i * o.estimateSize(), key: i, size: o.estimateSize() })),
    getTotalSize: () => o.count * o.estimateSize(),
    measureElement: () => {},
  }),
}))
import { setToken } from '../auth'
import { AppRoutes } from '../App'
import { OfflineBanner, OFFLINE_TEXT } from '../Shell'
import { checkHealth, resetHealth } from '../api/health'
import { json, mockFetch } from './helpers'
import { conv } from './helpers'
import Conversations from '../pages/Conversations'
import Search from '../pages/Search'
import { highlightParts } from '../pages/Search'
import { buildPath } from '../pages/Reader'
import { db } from '../db'

afterEach(async () => {
  resetHealth()
  await db.pages.clear()
})

describe('offline banner', () => {
  it('shows when /api/health fails', async () => {
    mockFetch(() => {
      throw new TypeError('Failed to fetch')
    })
    render(<OfflineBanner />)
    expect(screen.queryByRole('status')).toBeNull()
    await checkHealth()
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe(OFFLINE_TEXT))
  })
})

describe('conversation list', () => {
  it('renders rows from a page and asks for the next cursor', async () => {
    setToken('t')
    const first = Array.from({ length: 5 }, (_, i) => conv(i))
    const calls: string[] = []
    mockFetch((u) => {
      if (u.pathname === '/api/v1/conversations') {
        const cursor = u.searchParams.get('cursor') ?? ''
        calls.push(cursor)
        expect(u.searchParams.get('limit')).toBe('100')
        return cursor === '' ? json({ items: first, next_cursor: 'CUR2' }) : json({ items: [conv(99)] })
      }
      if (u.pathname === '/api/v1/identity') return json({ did: 'did:key:z6Mkme', peer_id: 'p', endpoint_id: 'e', x25519: 'x' })
      return undefined
    })
    render(
      <MemoryRouter>
        <Conversations />
      </MemoryRouter>,
    )
    expect(screen.getByRole('heading', { level: 1, name: 'Conversations' })).toBeTruthy()
    const link = await screen.findByRole('link', { name: /Conversation 0/ })
    expect(link.getAttribute('href')).toBe('/c/c0')
    await waitFor(() => expect(calls).toContain('CUR2'))
    await screen.findByRole('link', { name: /Conversation 99/ })
  })
})

describe('search page', () => {
  it('reads q and mode from the URL', async () => {
    setToken('t')
    let asked: URL | null = null
    mockFetch((u) => {
      if (u.pathname === '/api/v1/search') {
        asked = u
        return json({
          total: 1,
          hits: [
            { acu: 'a1', conversation: 'c7', title: 'Rust talk', provider: 'chatgpt', role: 'user', kind: 'text', created_at: '', score: 1, snippet: 'I like rust a lot', highlights: [[7, 11]], snippet_html: 'I like <b>rust</b> a lot' },
          ],
        })
      }
      return undefined
    })
    render(
      <MemoryRouter initialEntries={['/search?q=rust&mode=hybrid']}>
        <Search />
      </MemoryRouter>,
    )
    expect((screen.getByRole('searchbox', { name: 'Search' }) as HTMLInputElement).value).toBe('rust')
    expect((screen.getByLabelText('Mode') as HTMLSelectElement).value).toBe('hybrid')
    const link = await screen.findByRole('link', { name: 'Rust talk' })
    expect(link.getAttribute('href')).toBe('/c/c7')
    expect(asked!.searchParams.get('q')).toBe('rust')
    expect(asked!.searchParams.get('mode')).toBe('hybrid')
    expect(document.querySelector('mark')?.textContent).toBe('rust')
  })
  it('highlights by UTF-8 byte ranges', () => {
    const parts = highlightParts('你好 rust', [[7, 11]])
    expect(parts).toEqual([
      { text: '你好 ', hit: false },
      { text: 'rust', hit: true },
    ])
  })
})

describe('routes', () => {
  it('unknown path shows Not found', async () => {
    setToken('t')
    mockFetch(() => json({}))
    render(
      <MemoryRouter initialEntries={['/nope/x']}>
        <AppRoutes />
      </MemoryRouter>,
    )
    expect(await screen.findByRole('heading', { level: 1, name: 'Not found' })).toBeTruthy()
  })
})

describe('branches', () => {
  it('follows the head branch by default and switches', () => {
    const m = (id: string, parent: string | null) => ({ id, parent, conversation: 'c', role: 'user', kind: 'text', sealed: false, created_at: '', created_at_ms: 0, author: '', meta: {}, text: id })
    const msgs = [m('r', null), m('a', 'r'), m('b', 'r'), m('a2', 'a'), m('b2', 'b')]
    expect(buildPath(msgs, 'a2', {}).map((p) => p.msg.id)).toEqual(['r', 'a', 'a2'])
    expect(buildPath(msgs, 'a2', { r: 'b' }).map((p) => p.msg.id)).toEqual(['r', 'b', 'b2'])
  })
})
