import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setToken } from '../auth'
import { AppRoutes } from '../App'
import { OFFLINE_TEXT, Shell } from '../Shell'
import { resetHealth } from '../api/health'
import type { ConversationDetail, Status } from '../api/types'
import { Toasts } from '../components'
import { NO_PROVIDER_TEXT } from '../components/Provider'
import { db, saveConversation } from '../db'
import { scheduleDelete } from '../deletes'
import ContextPage from '../pages/Context'
import Feed from '../pages/Feed'
import Import from '../pages/Import'
import { ShareDialog } from '../pages/Reader'
import { conv, json, mockFetch } from './helpers'

beforeEach(() => {
  setToken('t')
  // No real socket in tests unless a test installs a fake one.
  vi.stubGlobal('WebSocket', undefined)
})
afterEach(async () => {
  vi.useRealTimers()
  resetHealth()
  await Promise.all([db.pages.clear(), db.conversations.clear(), db.kv.clear()])
})

const status = (over: Partial<Status> = {}): Status => ({
  did: 'did:key:z6Mkme',
  version: '0.1.0',
  uptime_seconds: 60,
  conversations: 1,
  acus: 3,
  index_docs: 3,
  data_dir: '/tmp/x',
  network: false,
  cors_origins: [],
  provider: null,
  semantic: null,
  peer_id: '12D3KooWtest',
  endpoint_id: 'e'.repeat(64),
  sizes: { records: 0, documents: 0, shares: 0, memories: 0, blobs: 0, text_index: 0, vectors: 0, total: 0 },
  counts: { conversations: 1, messages: 3, memories: 0, documents: 0, shares: 0, feed: 0 },
  background: [],
  attention: [],
  ...over,
})

describe('share dialog', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['A circle', { content: 'c1', circle: 'circ1' }],
    ['People (DIDs)', { content: 'c1', to: ['did:key:a', 'did:key:b'] }],
    ['Anyone with the link', { content: 'c1', link: true }],
    ['Public', { content: 'c1', public: true }],
  ]
  for (const [radio, expected] of cases) {
    it(`posts the body for “${radio}”`, async () => {
      let posted: unknown = null
      mockFetch(async (u, _init, req) => {
        if (u.pathname === '/api/v2/circles')
          return json([{ id: 'circ1', name: 'Friends', owner: 'did:key:z6Mkme', mine: true, visibility: 'private', members: [] }])
        if (u.pathname === '/api/v2/shares' && req?.method === 'POST') {
          posted = JSON.parse(await req.text())
          expect(req.headers.get('Authorization')).toBe('Bearer t')
          return json({ id: 's1', audience: 'link', status: 'active', link: null }, 201)
        }
        return undefined
      })
      render(<ShareDialog id="c1" onClose={() => {}} />)
      const dialog = screen.getByRole('dialog', { name: 'Share' })
      fireEvent.click(within(dialog).getByRole('radio', { name: radio }))
      if (radio === 'A circle') await within(dialog).findByRole('option', { name: 'Friends' })
      if (radio === 'People (DIDs)') fireEvent.change(within(dialog).getByLabelText('DIDs'), { target: { value: 'did:key:a, did:key:b' } })
      fireEvent.click(within(dialog).getByRole('button', { name: 'Share' }))
      await waitFor(() => expect(posted).toEqual(expected))
      await within(dialog).findByText(/Shared \(/)
    })
  }
})

describe('delete with undo', () => {
  it('Undo within the window cancels the DELETE; without Undo it is sent', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const deletes: string[] = []
    mockFetch((u, _i, req) => {
      if (req?.method === 'DELETE') {
        deletes.push(u.pathname)
        return new Response(null, { status: 204 })
      }
      return undefined
    })
    render(<Toasts />)
    act(() => scheduleDelete('c1'))
    fireEvent.click(screen.getByRole('button', { name: 'Undo' }))
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10_000)
    })
    expect(deletes).toEqual([])

    act(() => scheduleDelete('c2'))
    await act(async () => {
      await vi.advanceTimersByTimeAsync(4_000)
    })
    expect(deletes).toEqual([])
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1_500)
    })
    expect(deletes).toEqual(['/api/v1/conversations/c2'])
  })
})

/** A scripted XMLHttpRequest: the test drives upload progress and the answer. */
class FakeXhr {
  static last: FakeXhr | null = null
  method = ''
  url = ''
  headers: Record<string, string> = {}
  body: unknown = null
  status = 0
  statusText = ''
  responseText = ''
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null; onload: (() => void) | null } = {
    onprogress: null,
    onload: null,
  }
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  onabort: (() => void) | null = null
  open(m: string, u: string) {
    this.method = m
    this.url = u
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v
  }
  send(b: unknown) {
    this.body = b
    FakeXhr.last = this
  }
  abort() {
    this.onabort?.()
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true })
  }
  answer(status: number, body: unknown) {
    this.upload.onload?.()
    this.status = status
    this.responseText = JSON.stringify(body)
    this.onload?.()
  }
}

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

describe('import page', () => {
  it('shows upload progress, the live count, then the summary', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr)
    vi.stubGlobal('WebSocket', FakeWs)
    mockFetch(() => undefined)
    render(
      <MemoryRouter>
        <Import />
      </MemoryRouter>,
    )
    expect(screen.getByRole('heading', { level: 1, name: 'Import' })).toBeTruthy()
    const file = new File(['{"x":1}'.repeat(100)], 'conversations.json', { type: 'application/json' })
    fireEvent.change(screen.getByLabelText('Choose export file'), { target: { files: [file] } })
    const xhr = FakeXhr.last!
    expect(xhr.method).toBe('POST')
    expect(new URL(xhr.url).pathname).toBe('/api/v1/import')
    expect(new URL(xhr.url).searchParams.get('format')).toBe('auto')
    expect(xhr.headers.Authorization).toBe('Bearer t')
    expect(xhr.body).toBe(file)
    act(() => xhr.progress(350, 700))
    const bar = screen.getByRole('progressbar')
    expect(bar.getAttribute('aria-valuenow')).toBe('50')
    act(() => xhr.upload.onload?.())
    act(() => FakeWs.last!.emit({ type: 'conversation_imported', id: 'c1', title: 'First chat', message_count: 2 }))
    act(() => FakeWs.last!.emit({ type: 'conversation_imported', id: 'c2', title: 'Second chat', message_count: 2 }))
    expect(screen.getByText(/2 conversations so far/)).toBeTruthy()
    act(() =>
      xhr.answer(200, {
        format: 'chatgpt',
        conversations: 2,
        updated: 0,
        duplicates: 1,
        messages: 4,
        skipped: [{ index: 3, id: null, title: 'Broken', error: 'no mapping' }],
        seconds: 0.4,
      }),
    )
    const summary = await screen.findByRole('heading', { name: 'Import finished' })
    const card = summary.parentElement!
    expect(card.textContent).toContain('Imported: 2 new conversations')
    expect(card.textContent).toContain('Already stored: 1')
    expect(card.textContent).toContain('Skipped: 1')
    expect(card.textContent).toContain('#3 Broken: no mapping')
    expect(screen.queryByRole('progressbar')).toBeNull()
  })

  it('shows the 422 message plainly', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr)
    mockFetch(() => undefined)
    render(
      <MemoryRouter>
        <Import />
      </MemoryRouter>,
    )
    fireEvent.change(screen.getByLabelText('Choose export file'), { target: { files: [new File(['hello'], 'notes.bin')] } })
    act(() => FakeXhr.last!.answer(422, { error: { code: 'unrecognized_format', message: 'not a known export format' } }))
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toContain('did not recognize')
    expect(alert.textContent).toContain('not a known export format')
  })
})

describe('context page', () => {
  it('disables Send and says why without a provider', async () => {
    mockFetch((u) => (u.pathname === '/api/admin/status' ? json(status({ provider: null })) : undefined))
    render(<ContextPage />)
    await screen.findByText(new RegExp(NO_PROVIDER_TEXT.replace('[', '\\[').replace(']', '\\]')))
    expect(screen.getByRole('button', { name: 'Send' })).toHaveProperty('disabled', true)
    expect(screen.getByRole('button', { name: 'Assemble' })).toHaveProperty('disabled', false)
  })
  it('enables Send with a provider and names it', async () => {
    mockFetch((u) =>
      u.pathname === '/api/admin/status'
        ? json(status({ provider: { kind: 'openai', url: 'http://127.0.0.1:11434/v1', model: 'llama3', has_api_key: false } }))
        : undefined,
    )
    render(<ContextPage />)
    await screen.findByText(/llama3/)
    expect(screen.getByRole('button', { name: 'Send' })).toHaveProperty('disabled', false)
  })
})

describe('feed', () => {
  it('opens a share link and pages past the first 100 items', async () => {
    const item = (i: number) => ({ kind: 'shared', id: `f${i}`, actor: 'did:key:someone', title: `Item ${i}`, status: 'opened', at_ms: 1_000_000 - i })
    const asked: (string | null)[] = []
    let opened: unknown = null
    mockFetch(async (u, _i, req) => {
      if (u.pathname === '/api/v2/feed') {
        asked.push(u.searchParams.get('cursor'))
        expect(u.searchParams.get('limit')).toBe('100')
        return u.searchParams.get('cursor') === 'P2'
          ? json({ items: [item(100), item(101)] })
          : json({ items: Array.from({ length: 100 }, (_, i) => item(i)), next_cursor: 'P2' })
      }
      if (u.pathname === '/api/v2/open' && req?.method === 'POST') {
        opened = JSON.parse(await req.text())
        return json({ conversation: 'c9', title: 'Shared talk', owner: 'did:key:o', acus: 4, source: 'did:key:o', seconds: 0.2 })
      }
      return undefined
    })
    render(
      <MemoryRouter>
        <Feed />
      </MemoryRouter>,
    )
    await screen.findByText('Item 99')
    fireEvent.click(await screen.findByRole('button', { name: 'Load older' }))
    await screen.findByText('Item 101')
    expect(asked).toEqual([null, 'P2'])
    expect(screen.queryByRole('button', { name: 'Load older' })).toBeNull()

    fireEvent.change(screen.getByLabelText('Share link'), { target: { value: 'vivim://share/abc?from=did:key:o#k' } })
    fireEvent.click(screen.getByRole('button', { name: 'Open link' }))
    const link = await screen.findByRole('link', { name: 'Shared talk' })
    expect(link.getAttribute('href')).toBe('/c/c9')
    expect(opened).toEqual({ link: 'vivim://share/abc?from=did:key:o#k' })
  })
})

describe('offline reader', () => {
  it('renders a saved conversation with the offline banner when the node is down', async () => {
    const detail: ConversationDetail = {
      conversation: conv(1, { title: 'Saved talk' }),
      messages: [{ id: 'm1', conversation: 'c1', role: 'user', kind: 'text', sealed: false, created_at: '', created_at_ms: 0, author: 'did:key:x', meta: {}, text: 'kept offline' }],
    }
    await saveConversation(detail)
    mockFetch(() => {
      throw new TypeError('Failed to fetch')
    })
    render(
      <MemoryRouter initialEntries={['/c/c1']}>
        <Shell>
          <AppRoutes />
        </Shell>
      </MemoryRouter>,
    )
    expect(await screen.findByRole('heading', { level: 1, name: 'Saved talk' })).toBeTruthy()
    expect(await screen.findByText('kept offline')).toBeTruthy()
    await waitFor(() => expect(screen.getByText(OFFLINE_TEXT)).toBeTruthy())
    expect(screen.getByText(/Showing what this browser saved/)).toBeTruthy()
  })
})
