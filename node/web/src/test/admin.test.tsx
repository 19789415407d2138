import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

// jsdom has no layout, so the virtualizer would render nothing: render every row instead.
vi.mock('@tanstack/react-virtual', () => ({
  useVirtualizer: (o: { count: number; estimateSize: () => number }) => ({
    getVirtualItems: () => Array.from({ length: o.count }, (_, i) => ({ index: i, start: i * o.estimateSize(), end: (i + 1) * o.estimateSize(), key: i, size: o.estimateSize() })),
    getTotalSize: () => o.count * o.estimateSize(),
    measureElement: () => {},
  }),
}))

import { setToken } from '../auth'
import { AppRoutes } from '../App'
import { NAV } from '../Shell'
import { resetHealth } from '../api/health'
import type { AdminStatus, IntegrityReport, LogLine, MetricsSample, NetworkInfo, PeerInfo } from '../api/admin'
import { filenameFromDisposition } from '../api/admin'
import AdminStatusPage from '../pages/admin/Status'
import AdminMetrics, { routeTotals } from '../pages/admin/Metrics'
import AdminNetwork, { layoutGraph, relayOf } from '../pages/admin/Network'
import AdminLogs from '../pages/admin/Logs'
import AdminData from '../pages/admin/Data'
import { formatBytes, formatDuration } from '../pages/admin/format'
import { json, mockFetch } from './helpers'

const DID = 'did:key:z6MkadminTestDid1234567890abcdefghij'

beforeEach(() => {
  setToken('t')
  vi.stubGlobal('WebSocket', undefined)
})
afterEach(() => {
  vi.useRealTimers()
  resetHealth()
})

function status(over: Partial<AdminStatus> = {}): AdminStatus {
  return {
    did: DID,
    peer_id: '12D3KooWpeer',
    endpoint_id: 'endpoint123',
    version: '0.9.0',
    uptime_seconds: 3 * 3600 + 5 * 60,
    data_dir: '/home/me/.vivim',
    conversations: 12,
    acus: 340,
    index_docs: 340,
    network: true,
    cors_origins: [],
    provider: null,
    semantic: { embedder: 'builtin-hash-v1-256', dims: 256, embedded: 30, pending: 10, vectors: 30, running: true },
    sizes: { records: 4 * 1024 * 1024, documents: 1024, shares: 0, memories: 2048, blobs: 1024 * 1024, text_index: 2 * 1024 * 1024, vectors: 512 * 1024, total: 8 * 1024 * 1024 },
    counts: { conversations: 12, messages: 340, memories: 5, documents: 2, shares: 1, feed: 7 },
    background: [{ name: 'import', label: 'Importing export', done: 25, total: 100 }],
    attention: [{ kind: 'warning', message: 'The last import skipped 3 conversations', link: '/import' }],
    ...over,
  }
}

describe('admin routes', () => {
  it('has an Admin entry in the main nav', () => {
    expect(NAV.some((n) => n.to === '/admin' && n.label === 'Admin')).toBe(true)
  })
  it('/admin renders Node status with the admin tabs', async () => {
    mockFetch((u) => (u.pathname === '/api/admin/status' ? json(status()) : undefined))
    render(
      <MemoryRouter initialEntries={['/admin']}>
        <AppRoutes />
      </MemoryRouter>,
    )
    expect(await screen.findByRole('heading', { level: 1, name: 'Node status' }, { timeout: 5000 })).toBeTruthy()
    const tabs = screen.getByRole('navigation', { name: 'Admin' })
    expect(within(tabs).getByRole('link', { name: 'Metrics' }).getAttribute('href')).toBe('/admin/metrics')
    expect(within(tabs).getByRole('link', { name: 'Status' }).getAttribute('aria-current')).toBe('page')
  })
})

describe('status page', () => {
  it('renders the DID, sizes, background work and an attention item linking to its page', async () => {
    let auth: string | null = null
    mockFetch((u, init) => {
      if (u.pathname === '/api/admin/status') {
        auth = new Headers(init?.headers).get('Authorization')
        return json(status())
      }
      return undefined
    })
    render(
      <MemoryRouter>
        <AdminStatusPage />
      </MemoryRouter>,
    )
    expect(screen.getByRole('heading', { level: 1, name: 'Node status' })).toBeTruthy()
    expect(await screen.findByText(DID)).toBeTruthy()
    expect(auth).toBe('Bearer t')
    expect(screen.getByRole('button', { name: 'Copy DID' })).toBeTruthy()
    expect(screen.getByRole('img', { name: `QR code of ${DID}` }).tagName.toLowerCase()).toBe('svg')
    expect(screen.getByText('3 h 5 min')).toBeTruthy()
    // Sizes: a row per part, human-readable, and the total.
    const row = screen.getByText('Full-text index').closest('tr')!
    expect(row.textContent).toContain(formatBytes(2 * 1024 * 1024))
    expect(row.textContent).toContain('25.0%')
    expect(screen.getByRole('img', { name: /Data directory: 8\.00 MiB in total/ })).toBeTruthy()
    // Background work.
    const emb = screen.getByRole('progressbar', { name: /Semantic embedding/ })
    expect(emb.getAttribute('aria-valuenow')).toBe('75')
    expect(screen.getByRole('progressbar', { name: 'Importing export' }).getAttribute('aria-valuenow')).toBe('25')
    // Attention.
    const link = screen.getByRole('link', { name: 'The last import skipped 3 conversations' })
    expect(link.getAttribute('href')).toBe('/import')
  })

  it('does not follow attention links that leave the app and reads older semantic fields', async () => {
    mockFetch((u) =>
      u.pathname === '/api/admin/status'
        ? json({
            ...status({ attention: [{ kind: 'x', message: 'Outside', link: 'javascript:alert(1)' }], background: [] }),
            semantic: { embedder: 'e', dims: 1, vectors: 0, conversations_done: 1, conversations_pending: 3, running: false },
            sizes: undefined,
          })
        : undefined,
    )
    render(
      <MemoryRouter>
        <AdminStatusPage />
      </MemoryRouter>,
    )
    expect(await screen.findByText('Outside')).toBeTruthy()
    expect(screen.queryByRole('link', { name: 'Outside' })).toBeNull()
    expect(screen.getByRole('progressbar', { name: /Semantic embedding/ }).getAttribute('aria-valuenow')).toBe('25')
    expect(screen.getByText('This node does not report sizes.')).toBeTruthy()
  })

  it('shows an error state when the node refuses', async () => {
    mockFetch(() => json({ error: { code: 'internal', message: 'boom' } }, 500))
    render(
      <MemoryRouter>
        <AdminStatusPage />
      </MemoryRouter>,
    )
    expect((await screen.findByRole('alert')).textContent).toContain('boom')
  })
})

function sample(i: number, over: Partial<MetricsSample> = {}): MetricsSample {
  return {
    t: 1_700_000_000_000 + i * 5000,
    requests: 10 * (i + 1),
    errors: i,
    latency_p50_ms: 2 + i,
    latency_p99_ms: 20 + i,
    routes: [
      { route: 'GET /api/v1/conversations', requests: 4, mean_ms: 10 },
      { route: 'GET /api/v1/search', requests: i + 1, mean_ms: 30 },
    ],
    acus: 100 + i,
    imported: 5 * i,
    rss_bytes: 50 * 1024 * 1024,
    cpu_percent: 12.5,
    gossip_in_bytes: 1024 * i,
    gossip_out_bytes: 2048 * i,
    peers: 3 + i,
    dht_records: 40,
    blobs_fetched: 0,
    ...over,
  }
}

describe('metrics page', () => {
  it('draws charts from the series with the latest values as text', async () => {
    const samples = [sample(0), sample(1), sample(2), sample(3), sample(4)]
    mockFetch((u) => (u.pathname === '/api/admin/metrics/series' ? json({ interval_secs: 5, samples }) : undefined))
    render(
      <MemoryRouter>
        <AdminMetrics />
      </MemoryRouter>,
    )
    expect(screen.getByRole('heading', { level: 1, name: 'Metrics' })).toBeTruthy()
    const req = await screen.findByRole('figure', { name: 'Requests per second' })
    const svg = req.querySelector('svg')!
    expect(svg.getAttribute('role')).toBe('img')
    expect(svg.querySelector('title')?.textContent).toContain('Requests per second')
    expect(svg.querySelectorAll('polyline')).toHaveLength(2)
    expect(svg.querySelectorAll('polyline')[0].getAttribute('points')!.split(' ')).toHaveLength(5)
    // The last sample: 50 requests, 4 errors in 5 s.
    const legend = req.querySelector('.chart-legend')!
    expect(legend.textContent).toContain('Requests: 10 req/s')
    expect(legend.textContent).toContain('Errors (5xx): 0.8 req/s')
    expect(svg.getAttribute('aria-label')).toContain('Requests 10 req/s')

    const lat = screen.getByRole('figure', { name: 'Latency' })
    expect(lat.querySelectorAll('svg polyline')).toHaveLength(2)
    expect(lat.querySelector('.chart-legend')!.textContent).toContain('p99: 24 ms')
    const cpu = screen.getByRole('figure', { name: 'CPU' })
    expect(cpu.querySelectorAll('svg polyline')).toHaveLength(1)
    expect(cpu.querySelector('.chart-legend')!.textContent).toContain('CPU: 12.5%')
    expect(screen.getByRole('figure', { name: 'Memory (RSS)' }).querySelector('.chart-legend')!.textContent).toContain('RSS: 50.0 MiB')
    expect(screen.getAllByRole('figure')).toHaveLength(10)

    // Requests by route: summed over the window, busiest first.
    const table = screen.getByRole('heading', { name: 'Requests by route' }).parentElement!.querySelector('table')!
    const rows = within(table).getAllByRole('row').slice(1)
    expect(rows[0].textContent).toContain('GET /api/v1/conversations')
    expect(rows[0].textContent).toContain('20')
    expect(rows[1].textContent).toContain('15')
  })

  it('weights route latency by requests', () => {
    const r = routeTotals({
      interval_secs: 5,
      samples: [sample(0, { routes: [{ route: 'a', requests: 1, mean_ms: 10 }] }), sample(1, { routes: [{ route: 'a', requests: 3, mean_ms: 30 }] })],
    })
    expect(r).toEqual([{ route: 'a', requests: 4, mean_ms: 25 }])
  })

  it('says when there are no samples yet', async () => {
    mockFetch((u) => (u.pathname === '/api/admin/metrics/series' ? json({ interval_secs: 5, samples: [] }) : undefined))
    render(
      <MemoryRouter>
        <AdminMetrics />
      </MemoryRouter>,
    )
    expect(await screen.findByText(/No samples yet/)).toBeTruthy()
  })
})

const network: NetworkInfo = {
  libp2p: {
    peer_id: '12D3KooWself',
    listen_addrs: ['/ip4/0.0.0.0/tcp/4001'],
    connected_peers: 3,
    dht_peers: 9,
    dht_records: 42,
    topics: ['vivim/feed/1', 'vivim/shares/1'],
    gossip_bytes_out: 2048,
    gossip_bytes_in: 4096,
    buckets: [
      { index: 250, peers: 4 },
      { index: 255, peers: 5 },
      { index: 10, peers: 0 },
    ],
    mesh: [{ topic: 'vivim/feed/1', peers: 2 }],
    nat: 'private',
  },
  bootstrap_addrs: ['/dns4/boot.example/tcp/4001/p2p/12D3KooWboot'],
  iroh: { relay_server: null, home_relay: 'https://relay.example/', endpoint_id: 'irohendpoint', addrs: [] },
  fetched: 3,
  rejected: 0,
  pinned: 2,
  pins_dropped: 0,
  relay: false,
}

const peer = (i: number, over: Partial<PeerInfo> = {}): PeerInfo => ({
  peer_id: `12D3KooWpeer${String(i).padStart(4, '0')}`,
  did: null,
  addrs: [`/ip4/10.0.0.${i % 250}/tcp/4001`],
  rtt_ms: 12,
  direct: true,
  transport: 'tcp',
  connected_since_ms: 1_700_000_000_000,
  ...over,
})

describe('network page', () => {
  it('shows the summary, peers, graph, buckets and topics', async () => {
    const peers = [
      peer(1, { did: 'did:key:z6MkfriendFriendFriendFriend' }),
      peer(2),
      peer(3, { direct: false, transport: 'relay', addrs: ['/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWpeer0001/p2p-circuit/p2p/12D3KooWpeer0003'] }),
    ]
    mockFetch((u) => {
      if (u.pathname === '/api/admin/network') return json(network)
      if (u.pathname === '/api/admin/peers') return json(peers)
      return undefined
    })
    render(
      <MemoryRouter>
        <AdminNetwork />
      </MemoryRouter>,
    )
    expect(screen.getByRole('heading', { level: 1, name: 'Network' })).toBeTruthy()
    expect(await screen.findByText('12D3KooWself')).toBeTruthy()
    expect(screen.getByText('private')).toBeTruthy()
    const peersCard = screen.getByRole('heading', { name: 'Peers' }).parentElement!
    const rows = within(peersCard).getAllByRole('row').slice(1)
    expect(rows).toHaveLength(3)
    expect(rows[0].textContent).toContain('did:key:z6Mkfri')
    expect(rows[2].textContent).toContain('relayed')
    // Filter.
    fireEvent.change(within(peersCard).getByLabelText('Filter peers'), { target: { value: 'friend' } })
    expect(within(peersCard).getAllByRole('row').slice(1)).toHaveLength(1)
    // Graph: this node + 3 peers; peer 3 goes through peer 1 (its relay).
    const graph = screen.getByRole('img', { name: /Peer graph: this node with 3 connected peers, 2 direct and 1 relayed/ })
    expect(graph.querySelectorAll('circle')).toHaveLength(4)
    expect(graph.querySelectorAll('line')).toHaveLength(3)
    // Buckets (empty ones hidden) and topics with their mesh peers.
    expect(screen.getByText('Bucket 250')).toBeTruthy()
    expect(screen.queryByText('Bucket 10')).toBeNull()
    const topics = screen.getByRole('heading', { name: 'Gossip topics' }).parentElement!
    expect(within(topics).getByText('vivim/feed/1').closest('tr')!.textContent).toContain('2')
  })

  it('shows the network-off state on 503 network_off', async () => {
    mockFetch((u) =>
      u.pathname.startsWith('/api/admin/') ? json({ error: { code: 'network_off', message: 'the network is off' } }, 503) : undefined,
    )
    render(
      <MemoryRouter>
        <AdminNetwork />
      </MemoryRouter>,
    )
    const s = await screen.findByText(/The peer-to-peer network is not running/)
    expect(s.textContent).toBe('The peer-to-peer network is not running (start the node with vivim up).')
    expect(screen.queryByRole('alert')).toBeNull()
  })

  it('filters a long (virtualized) peer list', async () => {
    const peers = Array.from({ length: 150 }, (_, i) => peer(i))
    mockFetch((u) => {
      if (u.pathname === '/api/admin/network') return json(network)
      if (u.pathname === '/api/admin/peers') return json(peers)
      return undefined
    })
    render(
      <MemoryRouter>
        <AdminNetwork />
      </MemoryRouter>,
    )
    await screen.findByText('150 peers')
    expect(screen.getByRole('region', { name: 'Peers (scrollable)' }).classList.contains('peer-scroll')).toBe(true)
    fireEvent.change(screen.getByLabelText('Filter peers'), { target: { value: 'peer0149' } })
    expect(screen.getByText('1 of 150 peers')).toBeTruthy()
    // One row: no longer virtualized, and still a keyboard-reachable region (it can scroll sideways).
    const wrap = screen.getByRole('region', { name: 'Peers (scrollable)' })
    expect(wrap.classList.contains('peer-scroll')).toBe(false)
    expect(wrap.getAttribute('tabindex')).toBe('0')
  })

  it('lays out relayed peers through their relay, deterministically', () => {
    const peers = [peer(1), peer(2, { direct: false, addrs: ['https://relay.example/'] }), peer(3, { direct: false, addrs: [] })]
    expect(relayOf(peers[1])).toBe('https://relay.example/')
    expect(relayOf(peers[2])).toBe('relay')
    const a = layoutGraph(peers)
    const b = layoutGraph([...peers].reverse())
    expect(a.nodes.map((n) => [n.id, Math.round(n.x), Math.round(n.y)])).toEqual(b.nodes.map((n) => [n.id, Math.round(n.x), Math.round(n.y)]))
    expect(a.nodes.filter((n) => n.kind === 'relay')).toHaveLength(2)
    expect(a.edges).toHaveLength(5)
    expect(a.nodes[0]).toMatchObject({ kind: 'self', x: 0, y: 0 })
  })
})

/** A fake /api/admin/logs/ws whose frames the test sends. */
class FakeWs {
  static last: FakeWs | null = null
  onopen: (() => void) | null = null
  onmessage: ((m: { data: string }) => void) | null = null
  onclose: (() => void) | null = null
  closed = false
  constructor(public url: string) {
    FakeWs.last = this
  }
  close() {
    this.closed = true
  }
  emit(line: LogLine | { type: 'lagged'; missed: number }) {
    this.onmessage?.({ data: JSON.stringify(line) })
  }
}

const line = (seq: number, level: LogLine['level'], message: string, target = 'vivim_node::gateway'): LogLine => ({
  seq,
  time_ms: 1_700_000_000_000 + seq * 1000,
  level,
  target,
  message,
})

const wait = (ms: number) => act(() => new Promise<void>((r) => setTimeout(r, ms)))

describe('logs page', () => {
  function setup() {
    vi.stubGlobal('WebSocket', FakeWs)
    FakeWs.last = null
    const asked: URL[] = []
    mockFetch((u) => {
      if (u.pathname === '/api/admin/logs') {
        asked.push(u)
        return json({
          lines: [line(1, 'INFO', 'node started'), line(2, 'WARN', 'slow disk', 'vivim_store'), line(3, 'DEBUG', 'debug detail'), line(4, 'ERROR', 'import failed', 'vivim_import')],
          dropped: 0,
        })
      }
      return undefined
    })
    render(
      <MemoryRouter>
        <AdminLogs />
      </MemoryRouter>,
    )
    return asked
  }

  it('fills from GET, streams over the socket and filters by level, target and text', async () => {
    const asked = setup()
    expect(screen.getByRole('heading', { level: 1, name: 'Logs' })).toBeTruthy()
    expect(await screen.findByText('node started')).toBeTruthy()
    expect(asked[0].searchParams.get('limit')).toBe('500')
    expect(asked[0].searchParams.get('level')).toBe('info')
    // DEBUG is below the default level.
    expect(screen.queryByText('debug detail')).toBeNull()
    await waitFor(() => expect(FakeWs.last).not.toBeNull())
    const ws = FakeWs.last!
    const wsu = new URL(ws.url)
    expect(wsu.protocol).toBe('ws:')
    expect(wsu.pathname).toBe('/api/admin/logs/ws')
    expect(wsu.searchParams.get('token')).toBe('t')
    expect(wsu.searchParams.get('level')).toBe('info')
    act(() => ws.onopen?.())
    act(() => ws.emit(line(5, 'INFO', 'peer connected')))
    expect(await screen.findByText('peer connected')).toBeTruthy()
    // A line already held (same seq) is not added twice.
    act(() => ws.emit(line(5, 'INFO', 'peer connected')))
    await wait(250)
    expect(screen.getAllByText('peer connected')).toHaveLength(1)
    act(() => ws.emit({ type: 'lagged', missed: 3 }))
    expect(screen.getByText(/the live stream skipped 3 lines/)).toBeTruthy()
    // Level shown coloured by class.
    expect(screen.getByText('import failed').closest('.log-line')!.className).toContain('lv-ERROR')

    fireEvent.change(screen.getByLabelText('Search'), { target: { value: 'DISK' } })
    expect(screen.getByText('slow disk')).toBeTruthy()
    expect(screen.queryByText('node started')).toBeNull()
    fireEvent.change(screen.getByLabelText('Search'), { target: { value: '' } })
    fireEvent.change(screen.getByLabelText('Target'), { target: { value: 'import' } })
    expect(screen.getByText('import failed')).toBeTruthy()
    expect(screen.queryByText('slow disk')).toBeNull()
    fireEvent.change(screen.getByLabelText('Target'), { target: { value: '' } })

    fireEvent.change(screen.getByLabelText('Level'), { target: { value: 'warn' } })
    expect(screen.queryByText('node started')).toBeNull()
    expect(screen.getByText('slow disk')).toBeTruthy()
    expect(screen.getByText('import failed')).toBeTruthy()
    // The new level reconnects the socket with it.
    await waitFor(() => expect(new URL(FakeWs.last!.url).searchParams.get('level')).toBe('warn'))
    expect(ws.closed).toBe(true)
  })

  it('pause stops appending until resume; clear empties', async () => {
    setup()
    await screen.findByText('node started')
    await waitFor(() => expect(FakeWs.last).not.toBeNull())
    const ws = FakeWs.last!
    fireEvent.click(screen.getByRole('button', { name: 'Pause' }))
    act(() => ws.emit(line(10, 'INFO', 'while paused')))
    await wait(300)
    expect(screen.queryByText('while paused')).toBeNull()
    expect(screen.getByText(/Paused: 1 new lines waiting/)).toBeTruthy()
    fireEvent.click(screen.getByRole('button', { name: 'Resume' }))
    expect(await screen.findByText('while paused')).toBeTruthy()
    fireEvent.click(screen.getByRole('button', { name: 'Clear' }))
    expect(screen.queryByText('while paused')).toBeNull()
    expect(screen.getByText('No log lines yet.')).toBeTruthy()
  })

  it('download saves the held lines as a .log file', async () => {
    const blobs: Blob[] = []
    const names: string[] = []
    Object.defineProperty(URL, 'createObjectURL', { configurable: true, writable: true, value: vi.fn((b: Blob) => (blobs.push(b), 'blob:logs')) })
    Object.defineProperty(URL, 'revokeObjectURL', { configurable: true, writable: true, value: vi.fn() })
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      names.push(this.download)
    })
    setup()
    await screen.findByText('node started')
    fireEvent.click(screen.getByRole('button', { name: 'Download' }))
    expect(blobs).toHaveLength(1)
    expect(names[0]).toMatch(/^vivim-.*\.log$/)
    const text = await blobs[0].text()
    expect(text.split('\n').filter(Boolean)).toHaveLength(4)
    expect(text).toContain('WARN  vivim_store: slow disk')
  })

  it('falls back to polling when the socket fails', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const asked = setup()
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10)
    })
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10)
    })
    expect(FakeWs.last).not.toBeNull()
    act(() => FakeWs.last!.onclose?.())
    expect(screen.getByText(/Polling every 2 s/)).toBeTruthy()
    const before = asked.length
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2100)
    })
    expect(asked.length).toBe(before + 1)
  })
})

const report = (over: Partial<IntegrityReport> = {}): IntegrityReport => ({
  ok: false,
  conversations: 12,
  records_checked: 340,
  bytes_checked: 1024 * 1024,
  documents_checked: 2,
  memories_checked: 5,
  problems: [{ kind: 'hash_mismatch', conversation: 'conv-abc', record: 'rec-deadbeef', detail: 'content hash differs' }],
  index: { docs: 338, expected: 340, ok: false },
  took_ms: 1234,
  ...over,
})

describe('data care page', () => {
  it('runs the integrity check and shows problems naming their record', async () => {
    let method = ''
    mockFetch((u, init) => {
      if (u.pathname === '/api/admin/check') {
        method = init?.method ?? 'GET'
        return json(report())
      }
      return undefined
    })
    render(
      <MemoryRouter>
        <AdminData />
      </MemoryRouter>,
    )
    expect(screen.getByRole('heading', { level: 1, name: 'Data care' })).toBeTruthy()
    fireEvent.click(screen.getByRole('button', { name: 'Check integrity' }))
    expect(await screen.findByText('rec-deadbeef')).toBeTruthy()
    expect(method).toBe('POST')
    expect(screen.getByText(/1 problem found, and the search index is out of step/)).toBeTruthy()
    expect(screen.getByRole('link', { name: 'conv-abc' }).getAttribute('href')).toBe('/c/conv-abc')
    expect(screen.getByText(/338 documents, 340 expected/)).toBeTruthy()
    expect(screen.getByText('1.2 s')).toBeTruthy()
  })

  it('rebuilds an index after confirming', async () => {
    const bodies: unknown[] = []
    mockFetch((u, init) => {
      if (u.pathname === '/api/admin/rebuild') {
        bodies.push(JSON.parse(String(init?.body)))
        return json({ what: 'text', docs: 340, took_ms: 80 })
      }
      return undefined
    })
    render(
      <MemoryRouter>
        <AdminData />
      </MemoryRouter>,
    )
    fireEvent.click(screen.getByRole('button', { name: 'Rebuild full-text index' }))
    expect(bodies).toHaveLength(0)
    fireEvent.click(screen.getByRole('button', { name: 'Rebuild now' }))
    expect(await screen.findByText('Full-text index rebuilt: 340 documents in 80 ms.')).toBeTruthy()
    expect(bodies).toEqual([{ what: 'text' }])
  })

  it('backup with keys needs a matching passphrase of 8+ characters and posts it', async () => {
    const posted: unknown[] = []
    const names: string[] = []
    Object.defineProperty(URL, 'createObjectURL', { configurable: true, writable: true, value: vi.fn(() => 'blob:zip') })
    Object.defineProperty(URL, 'revokeObjectURL', { configurable: true, writable: true, value: vi.fn() })
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      names.push(this.download)
    })
    mockFetch((u, init) => {
      if (u.pathname === '/api/admin/backup' && init?.method === 'POST') {
        posted.push(JSON.parse(String(init.body)))
        return new Response(new Uint8Array([80, 75, 3, 4]), {
          status: 200,
          headers: { 'Content-Type': 'application/zip', 'Content-Disposition': 'attachment; filename="vivim-backup-20240101.zip"' },
        })
      }
      return undefined
    })
    render(
      <MemoryRouter>
        <AdminData />
      </MemoryRouter>,
    )
    expect(screen.queryByLabelText('Passphrase')).toBeNull()
    fireEvent.click(screen.getByRole('checkbox', { name: /Include keys/ }))
    const pass = screen.getByLabelText('Passphrase')
    const confirm = screen.getByLabelText('Confirm passphrase')
    const submit = screen.getByRole('button', { name: 'Download backup' })

    fireEvent.change(pass, { target: { value: 'short' } })
    fireEvent.change(confirm, { target: { value: 'short' } })
    fireEvent.click(submit)
    expect(await screen.findByText('Use at least 8 characters.')).toBeTruthy()
    expect(posted).toHaveLength(0)

    fireEvent.change(pass, { target: { value: 'correct horse' } })
    fireEvent.change(confirm, { target: { value: 'correct horsf' } })
    fireEvent.click(submit)
    expect(await screen.findByText('The two passphrases differ.')).toBeTruthy()
    expect(screen.queryByText('Use at least 8 characters.')).toBeNull()
    expect(posted).toHaveLength(0)

    fireEvent.change(confirm, { target: { value: 'correct horse' } })
    fireEvent.click(submit)
    expect(await screen.findByText(/Saved vivim-backup-20240101\.zip/)).toBeTruthy()
    expect(posted).toEqual([{ keys: true, passphrase: 'correct horse' }])
    expect(names).toEqual(['vivim-backup-20240101.zip'])
  })

  it('backup without keys posts keys:false and shows a 400 plainly', async () => {
    const posted: unknown[] = []
    mockFetch((u, init) => {
      if (u.pathname === '/api/admin/backup') {
        posted.push(JSON.parse(String(init?.body)))
        return json({ error: { code: 'bad_request', message: 'backup failed: disk full' } }, 400)
      }
      return undefined
    })
    render(
      <MemoryRouter>
        <AdminData />
      </MemoryRouter>,
    )
    fireEvent.click(screen.getByRole('button', { name: 'Download backup' }))
    expect((await screen.findByRole('alert')).textContent).toContain('backup failed: disk full')
    expect(posted).toEqual([{ keys: false }])
    expect(screen.getByText(/vivim restore <file> --data-dir <dir> \[--passphrase-env VAR\]/)).toBeTruthy()
    expect(screen.getByText('vivim compact')).toBeTruthy()
  })
})

describe('admin helpers', () => {
  it('formats durations and bytes, and reads a download file name', () => {
    expect(formatDuration(42)).toBe('42 s')
    expect(formatDuration(90061)).toBe('1 d 1 h 1 min')
    expect(formatBytes(1536)).toBe('1.50 KiB')
    expect(formatBytes(0)).toBe('0 B')
    expect(filenameFromDisposition('attachment; filename="vivim-backup-x.zip"', 'f.zip')).toBe('vivim-backup-x.zip')
    expect(filenameFromDisposition('attachment; filename="../../etc/passwd"', 'f.zip')).toBe('.._.._etc_passwd')
    expect(filenameFromDisposition(null, 'f.zip')).toBe('f.zip')
  })
})
