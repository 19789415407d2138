import { fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { MemoryRouter, useLocation } from 'react-router'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setToken } from '../auth'
import { AppRoutes } from '../App'
import { resetHealth } from '../api/health'
import type { ConversationDetail, MessageView } from '../api/types'
import { db } from '../db'
import Import from '../pages/Import'
import { b64ToBytes, setWasmForTests, type AcuView, type VivimWasm } from '../wasm'
import { conv, json, mockFetch } from './helpers'

const ALICE = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'
const MALLORY = 'did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG'
const PAYLOAD = 'ab'.repeat(32)
const KEY = 'cd'.repeat(32)
const LINK = `vivim://share/${PAYLOAD}?from=${ALICE}#${KEY}`

// The fake package: a "signed record" is base64 JSON { id, author } (or { bad: true }, which does not verify).
const record = (o: object) => btoa(JSON.stringify(o))
const readRecord = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b))

function acuView(id: string, over: Partial<AcuView> = {}): AcuView {
  return { id, conversation: 'c1', parent: null, author: ALICE, role: 'user', kind: 'text', text: `text of ${id}`, createdAtMs: 1_700_000_000_000, ...over }
}

function fakeWasm(over: Partial<VivimWasm> = {}): VivimWasm {
  return {
    verifyDid: (d) => d,
    decodeAcu: vi.fn((b: Uint8Array) => {
      const r = readRecord(b)
      if (r.bad) throw new Error('not a valid signed ACU: signature')
      return acuView(r.id, { author: r.author })
    }),
    decodeManifest: () => {
      throw new Error('unused')
    },
    parseShareLink: vi.fn((l: string) => {
      if (!l.startsWith('vivim://share/')) throw new Error('not a vivim://share/ link')
      return { payload: PAYLOAD, from: ALICE, keyId: 'k1' }
    }),
    openShare: vi.fn(() => ({
      conversation: { id: 'c7', title: 'Opened talk', provider: 'chatgpt', owner: ALICE, createdAtMs: 1, updatedAtMs: 2, messageCount: 2, head: 'b' },
      messages: [acuView('a', { conversation: 'c7', text: 'the question' }), acuView('b', { conversation: 'c7', parent: 'a', role: 'assistant', text: 'the answer' })],
    })),
    ...over,
  }
}

const ITEM = 120
beforeEach(() => {
  setToken('t')
  vi.stubGlobal('WebSocket', undefined)
  vi.stubGlobal('innerHeight', 800)
  vi.stubGlobal('scrollTo', vi.fn())
  vi.spyOn(HTMLElement.prototype, 'offsetHeight', 'get').mockImplementation(function (this: HTMLElement) {
    return this.hasAttribute('data-index') ? ITEM : 0
  })
})
afterEach(async () => {
  setWasmForTests(null)
  resetHealth()
  await Promise.all([db.pages.clear(), db.conversations.clear(), db.kv.clear()])
})

function msg(id: string, parent: string | null, over: Partial<MessageView> = {}): MessageView {
  return { id, parent, conversation: 'c1', role: 'user', kind: 'text', sealed: false, created_at: '', created_at_ms: 0, author: ALICE, meta: {}, text: `text of ${id}`, ...over }
}

/** Where the router is now (to see the fragment go). */
let at = { pathname: '', hash: '' }
function Where() {
  const l = useLocation()
  at = { pathname: l.pathname, hash: l.hash }
  return null
}

function renderAt(path: string) {
  render(
    <MemoryRouter initialEntries={[path]}>
      <AppRoutes />
      <Where />
    </MemoryRouter>,
  )
}

describe('reader signature badges', () => {
  // Checks are cached per conversation version: each test has its own.
  let version = 0
  let detail: ConversationDetail
  beforeEach(() => {
    detail = {
      conversation: conv(1, { title: 'Signed talk', head: 'm3', version: `v${++version}` }),
      messages: [msg('m0', null), msg('m1', 'm0', { role: 'assistant' }), msg('m2', 'm1'), msg('m3', 'm2', { role: 'assistant' })],
    }
  })
  function serve(acus: string[]) {
    const asked: string[] = []
    const f = mockFetch((u) => {
      asked.push(u.pathname)
      if (u.pathname === '/api/v1/conversations/c1') return json(detail)
      if (u.pathname === '/api/v2/conversations/c1/signed') return json({ conversation: 'c1', manifest: record({ m: 1 }), acus })
      return undefined
    })
    return { asked, f }
  }

  it('shows "verified, signed by" per message, and flags records that do not verify or name another signer', async () => {
    const w = fakeWasm()
    setWasmForTests(w)
    // m0, m1 verify; m2's record is altered (its decode throws); m3 verifies but for another key.
    const { asked } = serve([record({ id: 'm0', author: ALICE }), record({ id: 'm1', author: ALICE }), record({ bad: true }), record({ id: 'm3', author: MALLORY })])
    renderAt('/c/c1')
    expect(await screen.findByRole('heading', { level: 1, name: 'Signed talk' })).toBeTruthy()
    const verified = await screen.findAllByRole('img', { name: `Signature verified: signed by ${ALICE}` })
    expect(verified).toHaveLength(2)
    expect(verified[0].textContent).toContain('✓ verified')
    expect(verified[0].textContent).toContain(`signed by did:key:z6Mk…${ALICE.slice(-6)}`)
    expect(verified[0].getAttribute('title')).toBe(ALICE)
    const articles = within(screen.getByRole('feed', { name: 'Messages' })).getAllByRole('article')
    expect(within(articles[0]).getByRole('img', { name: /^Signature verified/ })).toBeTruthy()
    expect(within(articles[1]).getByRole('img', { name: /^Signature verified/ })).toBeTruthy()
    const bad = within(articles[2]).getByRole('img', { name: /^Signature does not verify/ })
    expect(bad.textContent).toBe('✗ signature does not verify')
    const other = within(articles[3]).getByRole('img', { name: /^Signed by another key/ })
    expect(other.getAttribute('title')).toContain(MALLORY)
    expect(screen.getByText(/2 messages do not verify/)).toBeTruthy()
    expect(screen.queryByText(/Signatures are not checked/)).toBeNull()
    expect(asked).toContain('/api/v2/conversations/c1/signed')
    expect(w.decodeAcu).toHaveBeenCalledTimes(4)
  })

  it('checks a long conversation in slices and keeps the page responsive', async () => {
    const n = 650
    const long: ConversationDetail = {
      conversation: conv(1, { title: 'Long signed talk', head: `m${n - 1}`, version: 'long' }),
      messages: Array.from({ length: n }, (_, i) => msg(`m${i}`, i ? `m${i - 1}` : null)),
    }
    const w = fakeWasm()
    setWasmForTests(w)
    mockFetch((u) => {
      if (u.pathname === '/api/v1/conversations/c1') return json(long)
      if (u.pathname === '/api/v2/conversations/c1/signed') return json({ conversation: 'c1', manifest: '', acus: long.messages.map((m) => record({ id: m.id, author: ALICE })) })
      return undefined
    })
    const timeouts = vi.spyOn(globalThis, 'setTimeout')
    renderAt('/c/c1')
    await screen.findByRole('heading', { level: 1, name: 'Long signed talk' })
    await waitFor(() => expect(w.decodeAcu).toHaveBeenCalledTimes(n))
    const rendered = within(screen.getByRole('feed', { name: 'Messages' })).getAllByRole('article')
    await waitFor(() => expect(screen.getAllByRole('img', { name: /^Signature verified/ })).toHaveLength(rendered.length))
    // 650 records in slices of 200: at least three yields to the event loop.
    expect(timeouts.mock.calls.filter((c) => c[1] === 0).length).toBeGreaterThanOrEqual(3)
    expect(screen.queryByText(/do not verify/)).toBeNull()
  })

  it('says once that signatures are not checked when the verifier is unavailable', async () => {
    setWasmForTests(null)
    const { asked } = serve([record({ id: 'm0', author: ALICE })])
    renderAt('/c/c1')
    await screen.findByRole('heading', { level: 1, name: 'Signed talk' })
    expect(await screen.findByText('text of m0')).toBeTruthy()
    const notes = await screen.findAllByText(/Signatures are not checked in this browser/)
    expect(notes).toHaveLength(1)
    expect(notes[0].textContent).toContain('this node was built without the wasm verifier (bindings/wasm/build.sh)')
    expect(screen.queryAllByRole('img', { name: /Signature/ })).toHaveLength(0)
    expect(screen.queryByText('checking…')).toBeNull()
    expect(asked).not.toContain('/api/v2/conversations/c1/signed')
  })

  it('shows nothing extra when the node does not give the signed records', async () => {
    setWasmForTests(fakeWasm())
    mockFetch((u) => (u.pathname === '/api/v1/conversations/c1' ? json(detail) : undefined))
    renderAt('/c/c1')
    expect(await screen.findByText('text of m0')).toBeTruthy()
    await waitFor(() => expect(screen.queryByText('checking…')).toBeNull())
    expect(screen.queryAllByRole('img', { name: /Signature/ })).toHaveLength(0)
    expect(screen.queryByText(/Signatures are not checked/)).toBeNull()
  })
})

describe('open a share link in the browser', () => {
  function serveSealed() {
    const urls: URL[] = []
    let posted: unknown = null
    mockFetch(async (u, _i, req) => {
      urls.push(u)
      if (u.pathname === `/api/v2/sealed/${PAYLOAD}`) return json({ payload: PAYLOAD, blobs: [btoa('blob one'), btoa('blob two')], bytes: 16, source: 'local' })
      if (u.pathname === '/api/v2/open' && req?.method === 'POST') {
        posted = JSON.parse(await req.text())
        return json({ conversation: 'c7', title: 'Opened talk', owner: ALICE, acus: 2, source: 'local', seconds: 0.1 })
      }
      return undefined
    })
    return { urls, posted: () => posted }
  }

  it('opens the link from the fragment here: sealed package from the node, decrypted and checked in the browser', async () => {
    const w = fakeWasm()
    setWasmForTests(w)
    const { urls } = serveSealed()
    renderAt(`/open#${encodeURIComponent(LINK)}`)
    expect(await screen.findByRole('heading', { level: 1, name: 'Open a share link' })).toBeTruthy()
    expect(await screen.findByRole('heading', { level: 2, name: 'Opened talk' })).toBeTruthy()
    // The link (and its key) is out of the address once read.
    expect(at).toEqual({ pathname: '/open', hash: '' })
    expect(w.parseShareLink).toHaveBeenCalledWith(LINK)
    const sealed = urls.find((u) => u.pathname.startsWith('/api/v2/sealed/'))!
    expect(sealed.pathname).toBe(`/api/v2/sealed/${PAYLOAD}`)
    expect(sealed.searchParams.get('from')).toBe(ALICE)
    // The key went to no request.
    expect(urls.every((u) => !u.href.includes(KEY))).toBe(true)
    // openShare got the link (with its key) and the blobs as bytes.
    const [link, blobs] = vi.mocked(w.openShare).mock.calls[0]
    expect(link).toBe(LINK)
    expect(blobs.map((b) => new TextDecoder().decode(b))).toEqual(['blob one', 'blob two'])
    expect(screen.getByText(/Decrypted in this browser; the key in the link was not sent to your node\./)).toBeTruthy()
    expect(screen.getByText('the question')).toBeTruthy()
    expect(screen.getByText('the answer')).toBeTruthy()
    expect(screen.getAllByRole('img', { name: `Signature verified: signed by ${ALICE}` })).toHaveLength(2)
    expect(screen.getByText(/^2 messages/)).toBeTruthy()
    expect(screen.getByText('(2 signed records, all verified)')).toBeTruthy()
    expect(screen.getAllByText(ALICE).length).toBeGreaterThanOrEqual(1)
  })

  it('shows a link that does not parse as an inline error, without asking the node', async () => {
    setWasmForTests(fakeWasm())
    const { urls } = serveSealed()
    renderAt('/open')
    await screen.findByRole('heading', { level: 1, name: 'Open a share link' })
    fireEvent.change(screen.getByLabelText('Share link'), { target: { value: 'https://example.com/nope' } })
    fireEvent.click(await screen.findByRole('button', { name: 'Open in this browser' }))
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toContain('Not a share link: not a vivim://share/ link')
    expect(urls.some((u) => u.pathname.startsWith('/api/v2/sealed'))).toBe(false)
  })

  it('shows the node\'s message when the sealed package cannot be fetched', async () => {
    setWasmForTests(fakeWasm())
    mockFetch((u) =>
      u.pathname.startsWith('/api/v2/sealed/') ? json({ error: { code: 'network_off', message: 'this node runs without network' } }, 503) : undefined,
    )
    renderAt(`/open#${encodeURIComponent(LINK)}`)
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toContain('Could not fetch the sealed package')
    expect(alert.textContent).toContain('this node runs without network')
  })

  it('"Save to my node" posts the link to /api/v2/open and links to the saved conversation', async () => {
    setWasmForTests(fakeWasm())
    const s = serveSealed()
    renderAt(`/open#${encodeURIComponent(LINK)}`)
    await screen.findByRole('heading', { level: 2, name: 'Opened talk' })
    fireEvent.click(screen.getByRole('button', { name: 'Save to my node' }))
    const link = await screen.findByRole('link', { name: /Open “Opened talk” in your conversations/ })
    expect(link.getAttribute('href')).toBe('/c/c7')
    expect(s.posted()).toEqual({ link: LINK })
  })

  it('without the verifier, explains and offers only "Save to my node"', async () => {
    setWasmForTests(null)
    const s = serveSealed()
    renderAt(`/open#${encodeURIComponent(LINK)}`)
    expect(await screen.findByText(/This browser cannot open links itself/)).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Open in this browser' })).toBeNull()
    expect((screen.getByLabelText('Share link') as HTMLInputElement).value).toBe(LINK)
    expect(s.urls.some((u) => u.pathname.startsWith('/api/v2/sealed'))).toBe(false)
    fireEvent.click(screen.getByRole('button', { name: 'Save to my node' }))
    expect(await screen.findByRole('link', { name: /in your conversations/ })).toBeTruthy()
    expect(s.posted()).toEqual({ link: LINK })
  })
})

describe('import page and share links', () => {
  it('offers to open a vivim://share/ link in the browser first', () => {
    mockFetch(() => undefined)
    render(
      <MemoryRouter>
        <Import />
      </MemoryRouter>,
    )
    expect(screen.queryByRole('link', { name: 'Open in the browser first' })).toBeNull()
    fireEvent.change(screen.getByLabelText('Share URL'), { target: { value: LINK } })
    const a = screen.getByRole('link', { name: 'Open in the browser first' })
    expect(a.getAttribute('href')).toBe(`/open#${encodeURIComponent(LINK)}`)
  })
})

describe('b64ToBytes', () => {
  it('decodes standard base64', () => {
    expect(Array.from(b64ToBytes('AAEC/w=='))).toEqual([0, 1, 2, 255])
    expect(b64ToBytes('').length).toBe(0)
  })
})
