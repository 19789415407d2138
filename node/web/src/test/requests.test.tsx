import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setToken } from '../auth'
import { AppRoutes } from '../App'
import { NAV, Shell } from '../Shell'
import { resetHealth } from '../api/health'
import { setRequestCount } from '../api/requests'
import type { RequestView } from '../api/types'
import { Toasts } from '../components'
import { db } from '../db'
import Requests, { describeItem, outcomeText } from '../pages/Requests'
import { json, mockFetch } from './helpers'

const ALICE = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'
const BOB = 'did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG'

const requests = (): RequestView[] => [
  {
    did: ALICE,
    first_seen_ms: 1_700_000_000_000,
    last_seen_ms: 1_700_000_360_000,
    items: [{ kind: 'share', id: 'intent1', size: 2048, title: null, at_ms: 1_700_000_360_000 }],
  },
  {
    did: BOB,
    first_seen_ms: 1_690_000_000_000,
    last_seen_ms: 1_690_000_000_000,
    items: [
      { kind: 'circle', id: 'doc-circle', size: null, title: null, at_ms: 1_690_000_000_000 },
      { kind: 'graph', id: 'doc-graph', size: null, title: null, at_ms: 1_690_000_000_000 },
    ],
  },
]

/** A fake /api/ws whose messages the test sends. */
class FakeWs {
  static last: FakeWs | null = null
  onopen: (() => void) | null = null
  onmessage: ((m: { data: string }) => void) | null = null
  onclose: (() => void) | null = null
  constructor(public url: string) {
    FakeWs.last = this
  }
  close() {}
  emit(ev: unknown) {
    this.onmessage?.({ data: JSON.stringify(ev) })
  }
}

function renderPage() {
  return render(
    <MemoryRouter>
      <Requests />
      <Toasts />
    </MemoryRouter>,
  )
}

/** The list item (card) of the request from `did`. */
function card(did: string): HTMLElement {
  return screen.getByTitle(did).closest('li.request') as HTMLElement
}

beforeEach(() => {
  setToken('t')
  vi.stubGlobal('WebSocket', undefined)
})
afterEach(async () => {
  resetHealth()
  setRequestCount(0)
  await db.kv.clear()
})

describe('requests page', () => {
  it('lists two requests with what they sent in plain words', async () => {
    mockFetch((u) => (u.pathname === '/api/v3/requests' ? json(requests()) : undefined))
    renderPage()
    expect(screen.getByRole('heading', { level: 1, name: 'Requests' })).toBeTruthy()
    expect(screen.getByText(/cannot make your node download or follow anything until you accept/)).toBeTruthy()
    const list = await screen.findByRole('list', { name: 'Pending requests' })
    const items = within(list).getAllByRole('listitem').filter((li) => li.classList.contains('request'))
    expect(items).toHaveLength(2)
    // Most recent first, as the node sends them.
    expect(within(items[0]).getByTitle(ALICE)).toBeTruthy()
    expect(within(items[1]).getByTitle(BOB)).toBeTruthy()
    expect(items[0].textContent).toContain('shared a conversation with you')
    expect(items[0].textContent).toContain('2.00 KiB')
    expect(items[1].textContent).toContain('added you to a circle')
    expect(items[1].textContent).toContain('sent a friend request or follows you')
    expect(items[1].textContent).not.toContain('KiB')
    expect(items[0].textContent).toMatch(/First seen .+ · last seen /)
    expect(items[1].textContent).not.toContain('last seen')
    // Three buttons per request, named by their words and described by the sender's DID.
    for (const li of items) {
      for (const name of ['Accept', 'Ignore', 'Block']) {
        const b = within(li).getByRole('button', { name })
        const did = document.getElementById(b.getAttribute('aria-describedby')!)
        expect(did?.getAttribute('title')).toBe(li === items[0] ? ALICE : BOB)
      }
    }
  })

  it('Accept posts to /api/v3/requests/<did>/accept, removes the item and shows the toast', async () => {
    const posted: string[] = []
    mockFetch((u, _i, req) => {
      if (u.pathname === '/api/v3/requests' && req?.method !== 'POST') return json(requests())
      if (req?.method === 'POST' && u.pathname.startsWith('/api/v3/requests/')) {
        posted.push(u.pathname)
        expect(req.headers.get('Authorization')).toBe('Bearer t')
        return json({ did: ALICE, decision: 'accepted', documents: 0, shares: 1 })
      }
      return undefined
    })
    renderPage()
    await screen.findByTitle(ALICE)
    fireEvent.click(within(card(ALICE)).getByRole('button', { name: 'Accept' }))
    await waitFor(() => expect(screen.queryByTitle(ALICE)).toBeNull())
    expect(posted).toEqual([`/api/v3/requests/${encodeURIComponent(ALICE)}/accept`])
    expect(await screen.findByText(/^Accepted did:key:z6Mk.*: 1 share opening$/)).toBeTruthy()
    // The other request stays, and focus moves to it.
    expect(screen.getByTitle(BOB)).toBeTruthy()
    await waitFor(() => expect(document.activeElement?.textContent).toContain('did:key:z6Mkjch'))
  })

  it('Block and Ignore post their action; the last one leaves the empty state', async () => {
    const posted: string[] = []
    mockFetch((u, _i, req) => {
      if (u.pathname === '/api/v3/requests' && req?.method !== 'POST') return json(requests())
      if (req?.method === 'POST') {
        posted.push(u.pathname.split('/').pop()!)
        const did = decodeURIComponent(u.pathname.split('/')[4])
        return json({ did, decision: u.pathname.endsWith('/block') ? 'blocked' : 'ignored', documents: 0, shares: 0 })
      }
      return undefined
    })
    renderPage()
    await screen.findByTitle(BOB)
    fireEvent.click(within(card(BOB)).getByRole('button', { name: 'Block' }))
    expect(await screen.findByText(/^Blocked did:key:z6Mkjch/)).toBeTruthy()
    fireEvent.click(within(card(ALICE)).getByRole('button', { name: 'Ignore' }))
    expect(await screen.findByText(/^Ignored did:key:z6MkhaX/)).toBeTruthy()
    expect(await screen.findByText('No requests')).toBeTruthy()
    expect(posted).toEqual(['block', 'ignore'])
    expect(document.activeElement).toBe(screen.getByRole('heading', { level: 1, name: 'Requests' }))
  })

  it('shows the node’s error and keeps the request when a decision fails', async () => {
    mockFetch((u, _i, req) => {
      if (req?.method === 'POST') return json({ error: { code: 'bad_request', message: 'not a DID' } }, 400)
      if (u.pathname === '/api/v3/requests') return json(requests())
      return undefined
    })
    renderPage()
    await screen.findByTitle(ALICE)
    fireEvent.click(within(card(ALICE)).getByRole('button', { name: 'Accept' }))
    const alert = await within(card(ALICE)).findByRole('alert')
    expect(alert.textContent).toContain('not a DID')
    expect(within(card(ALICE)).getByRole('button', { name: 'Accept' })).toHaveProperty('disabled', false)
  })

  it('shows the empty state', async () => {
    mockFetch((u) => (u.pathname === '/api/v3/requests' ? json([]) : undefined))
    renderPage()
    expect(await screen.findByText('No requests')).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Accept' })).toBeNull()
  })

  it('reloads live when a request event arrives on /api/ws', async () => {
    vi.stubGlobal('WebSocket', FakeWs)
    let list: RequestView[] = []
    mockFetch((u) => (u.pathname === '/api/v3/requests' ? json(list) : undefined))
    renderPage()
    await screen.findByText('No requests')
    list = requests().slice(0, 1)
    act(() => FakeWs.last!.emit({ type: 'request', did: ALICE }))
    expect(await screen.findByTitle(ALICE)).toBeTruthy()
    expect(screen.getByText('shared a conversation with you', { exact: false })).toBeTruthy()
  })
})

describe('requests in words', () => {
  it('describes every kind and outcome', () => {
    expect(describeItem('share_ref')).toBe('shared a conversation with you')
    expect(describeItem('group')).toBe('added you to a group')
    expect(describeItem('team')).toBe('added you to a team')
    expect(outcomeText({ did: ALICE, decision: 'accepted', documents: 2, shares: 1 })).toBe(
      `Accepted ${ALICE.slice(0, 16)}…${ALICE.slice(-6)}: 1 share opening, 2 documents tracked`,
    )
    expect(outcomeText({ did: ALICE, decision: 'blocked', documents: 0, shares: 0 })).toMatch(/^Blocked did:key:/)
  })
})

describe('requests route and nav', () => {
  it('has a Requests entry right after Feed', () => {
    const i = NAV.findIndex((n) => n.to === '/feed')
    expect(NAV[i + 1]).toEqual({ to: '/requests', label: 'Requests' })
  })

  it('/requests renders the page, and the nav shows the pending count', async () => {
    mockFetch((u) => (u.pathname === '/api/v3/requests' ? json(requests()) : u.pathname === '/api/health' ? json({ ok: true }) : json([])))
    render(
      <MemoryRouter initialEntries={['/requests']}>
        <Shell>
          <AppRoutes />
        </Shell>
      </MemoryRouter>,
    )
    expect(await screen.findByRole('heading', { level: 1, name: 'Requests' })).toBeTruthy()
    const link = await screen.findByRole('link', { name: 'Requests (2 pending)' })
    expect(link.getAttribute('href')).toBe('/requests')
  })
})
