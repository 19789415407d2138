import { Fragment, useId, useMemo, useRef, useState, type ReactNode } from 'react'
import { useVirtualizer } from '@tanstack/react-virtual'
import { getNetwork, getPeers, isNetworkOff, type NetworkInfo, type PeerInfo } from '../../api/admin'
import { Card, ErrorState, PageState } from '../../components'
import { AdminNav, Updated } from './AdminNav'
import { formatBytes, formatDateTime, formatNumber, shortId } from './format'
import { usePoll } from './usePoll'

export const NETWORK_OFF_TEXT = 'The peer-to-peer network is not running (start the node with `vivim up`).'

/** A relayed peer's relay: the PeerId before `/p2p-circuit`, else an iroh relay URL, else "relay". */
export function relayOf(p: PeerInfo): string | null {
  if (p.direct) return null
  for (const a of p.addrs ?? []) {
    const i = a.indexOf('/p2p-circuit')
    if (i > 0) {
      const m = /\/p2p\/([^/]+)$/.exec(a.slice(0, i))
      if (m) return m[1]
    }
  }
  for (const a of p.addrs ?? []) if (/^https?:\/\//i.test(a)) return a
  return 'relay'
}

export const GRAPH_MAX_PEERS = 120
const SELF = '\u0000self'

export interface GraphNode {
  id: string
  kind: 'self' | 'direct' | 'relayed' | 'relay'
  label: string
  x: number
  y: number
}
export interface Graph {
  nodes: GraphNode[]
  edges: [number, number][]
  shown: number
}

/**
 * A force layout computed once (a fixed number of iterations): this node pinned in the centre,
 * peers around it, relayed peers linked through their relay. Deterministic for the same peer set.
 */
export function layoutGraph(peers: PeerInfo[], iterations = 150): Graph {
  const list = [...peers].sort((a, b) => a.peer_id.localeCompare(b.peer_id)).slice(0, GRAPH_MAX_PEERS)
  const nodes: GraphNode[] = [{ id: SELF, kind: 'self', label: 'This node', x: 0, y: 0 }]
  const index = new Map<string, number>([[SELF, 0]])
  for (const p of list) {
    index.set(p.peer_id, nodes.length)
    nodes.push({ id: p.peer_id, kind: p.direct ? 'direct' : 'relayed', label: p.did ?? p.peer_id, x: 0, y: 0 })
  }
  const edges: [number, number][] = []
  const seen = new Set<string>()
  const link = (a: number, b: number) => {
    const k = a < b ? `${a}-${b}` : `${b}-${a}`
    if (a === b || seen.has(k)) return
    seen.add(k)
    edges.push([a, b])
  }
  for (const p of list) {
    const i = index.get(p.peer_id)!
    const r = relayOf(p)
    if (r == null) {
      link(0, i)
      continue
    }
    let ri = index.get(r) ?? index.get(`relay:${r}`)
    if (ri === undefined) {
      ri = nodes.length
      index.set(`relay:${r}`, ri)
      nodes.push({ id: `relay:${r}`, kind: 'relay', label: r === 'relay' ? 'Relay' : `Relay ${r}`, x: 0, y: 0 })
    }
    link(0, ri)
    link(ri, i)
  }
  // Start on circles (relays inside), then relax.
  const n = nodes.length
  const others = nodes.slice(1)
  others.forEach((nd, j) => {
    const a = (2 * Math.PI * j) / Math.max(1, others.length)
    const r = nd.kind === 'relay' ? 60 : 140
    nd.x = Math.cos(a) * r
    nd.y = Math.sin(a) * r
  })
  const k = Math.max(28, Math.min(90, 300 / Math.sqrt(n)))
  let temp = 40
  const dx = new Float64Array(n)
  const dy = new Float64Array(n)
  for (let it = 0; it < iterations; it++) {
    dx.fill(0)
    dy.fill(0)
    for (let a = 0; a < n; a++)
      for (let b = a + 1; b < n; b++) {
        let vx = nodes[a].x - nodes[b].x
        let vy = nodes[a].y - nodes[b].y
        let d2 = vx * vx + vy * vy
        if (d2 < 0.01) {
          vx = 0.1 * ((a % 3) - 1 || 1)
          vy = 0.1 * ((b % 3) - 1 || 1)
          d2 = vx * vx + vy * vy
        }
        const f = (k * k) / d2
        dx[a] += vx * f
        dy[a] += vy * f
        dx[b] -= vx * f
        dy[b] -= vy * f
      }
    for (const [a, b] of edges) {
      const vx = nodes[a].x - nodes[b].x
      const vy = nodes[a].y - nodes[b].y
      const d = Math.sqrt(vx * vx + vy * vy) || 0.01
      const f = d / k
      dx[a] -= vx * f
      dy[a] -= vy * f
      dx[b] += vx * f
      dy[b] += vy * f
    }
    for (let a = 1; a < n; a++) {
      // A little gravity keeps unlinked groups on screen.
      dx[a] -= nodes[a].x * 0.02
      dy[a] -= nodes[a].y * 0.02
      const len = Math.sqrt(dx[a] * dx[a] + dy[a] * dy[a]) || 1
      const step = Math.min(len, temp)
      nodes[a].x += (dx[a] / len) * step
      nodes[a].y += (dy[a] / len) * step
    }
    temp = Math.max(1, temp * 0.97)
  }
  return { nodes, edges, shown: list.length }
}

function PeerGraph({ peers }: { peers: PeerInfo[] }) {
  // The layout depends only on which peers there are and how they are reached, not on each poll's new array.
  const key = peers
    .map((p) => `${p.peer_id}|${relayOf(p) ?? ''}|${p.did ?? ''}`)
    .sort()
    .join(',')
  const g = useMemo(() => layoutGraph(peers), [key])
  const size = 400
  const pad = 16
  let ext = 1
  for (const nd of g.nodes) ext = Math.max(ext, Math.abs(nd.x), Math.abs(nd.y))
  const sc = (size / 2 - pad) / ext
  const X = (v: number) => size / 2 + v * sc
  const direct = peers.filter((p) => p.direct).length
  const label = `Peer graph: this node with ${peers.length} connected peers, ${direct} direct and ${peers.length - direct} relayed`
  return (
    <figure className="peer-graph">
      <svg viewBox={`0 0 ${size} ${size}`} role="img" aria-label={label}>
        <title>{label}</title>
        {g.edges.map(([a, b]) => (
          <line key={`${a}-${b}`} className="graph-edge" x1={X(g.nodes[a].x)} y1={X(g.nodes[a].y)} x2={X(g.nodes[b].x)} y2={X(g.nodes[b].y)} />
        ))}
        {g.nodes.map((nd) =>
          nd.kind === 'relay' ? (
            <rect key={nd.id} className="graph-node graph-relay" x={X(nd.x) - 6} y={X(nd.y) - 6} width={12} height={12} rx={2}>
              <title>{nd.label}</title>
            </rect>
          ) : (
            <circle key={nd.id} className={`graph-node graph-${nd.kind}`} cx={X(nd.x)} cy={X(nd.y)} r={nd.kind === 'self' ? 11 : 6}>
              <title>{nd.label}</title>
            </circle>
          ),
        )}
      </svg>
      <figcaption className="graph-legend muted">
        <span>
          <span className="swatch graph-self" aria-hidden="true" /> this node
        </span>
        <span>
          <span className="swatch graph-direct" aria-hidden="true" /> direct
        </span>
        <span>
          <span className="swatch graph-relayed" aria-hidden="true" /> relayed
        </span>
        <span>
          <span className="swatch graph-relay sq" aria-hidden="true" /> relay
        </span>
        {g.shown < peers.length && <span>showing {g.shown} of {peers.length} peers</span>}
      </figcaption>
    </figure>
  )
}

export function peerMatches(p: PeerInfo, q: string): boolean {
  if (!q) return true
  const s = q.toLowerCase()
  return [p.peer_id, p.did ?? '', p.transport, p.direct ? 'direct' : 'relayed', ...(p.addrs ?? [])].some((v) => v.toLowerCase().includes(s))
}

const ROW_HEIGHT = 52
export const VIRTUALIZE_OVER = 100

function PeerRow({ p, index, measure }: { p: PeerInfo; index?: number; measure?: (el: Element | null) => void }) {
  return (
    <tr data-index={index} ref={measure}>
      <td className="break">{p.did ? <code title={p.did}>{shortId(p.did, 16, 6)}</code> : <span className="muted">unknown</span>}</td>
      <td>
        <code title={p.peer_id}>{shortId(p.peer_id, 10, 6)}</code>
      </td>
      <td className="addrs">
        {(p.addrs ?? []).length === 0 ? (
          <span className="muted">—</span>
        ) : (
          (p.addrs ?? []).map((a, i) => (
            <code key={i} className="addr">
              {a}
            </code>
          ))
        )}
      </td>
      <td>{p.transport}</td>
      <td className="num">{p.rtt_ms == null ? '—' : `${formatNumber(p.rtt_ms)} ms`}</td>
      <td>{p.direct ? 'direct' : 'relayed'}</td>
      <td>{formatDateTime(p.connected_since_ms)}</td>
    </tr>
  )
}

function PeerTable({ peers }: { peers: PeerInfo[] }) {
  const uid = useId()
  const [filter, setFilter] = useState('')
  const rows = useMemo(() => peers.filter((p) => peerMatches(p, filter.trim())), [peers, filter])
  const virtualize = rows.length > VIRTUALIZE_OVER
  const scrollRef = useRef<HTMLDivElement>(null)
  const virt = useVirtualizer({
    count: virtualize ? rows.length : 0,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    initialRect: { width: 800, height: 480 },
  })
  const items = virtualize ? virt.getVirtualItems() : []
  const padTop = items.length ? items[0].start : 0
  const lastItem = items[items.length - 1]
  const padBottom = items.length ? Math.max(0, virt.getTotalSize() - (lastItem.start + lastItem.size)) : 0
  return (
    <>
      <div className="toolbar">
        <span className="inline-field">
          <label htmlFor={`${uid}-filter`}>Filter peers</label>
          <input id={`${uid}-filter`} type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="DID, PeerId, address…" />
        </span>
        <span className="muted" aria-live="polite">
          {rows.length === peers.length ? `${peers.length} peers` : `${rows.length} of ${peers.length} peers`}
        </span>
      </div>
      {rows.length === 0 ? (
        <p className="muted">{peers.length === 0 ? 'No peers connected.' : 'No peer matches the filter.'}</p>
      ) : (
        <div ref={scrollRef} className={virtualize ? 'table-wrap peer-scroll' : 'table-wrap'} tabIndex={0} aria-label="Peers (scrollable)" role="region">
          <table className="admin-table peers-table">
            <thead>
              <tr>
                <th scope="col">DID</th>
                <th scope="col">PeerId</th>
                <th scope="col">Addresses</th>
                <th scope="col">Transport</th>
                <th scope="col" className="num">
                  Latency
                </th>
                <th scope="col">Path</th>
                <th scope="col">Connected since</th>
              </tr>
            </thead>
            <tbody>
              {virtualize ? (
                <>
                  {padTop > 0 && (
                    <tr aria-hidden="true" className="spacer">
                      <td colSpan={7} style={{ height: padTop, padding: 0 }} />
                    </tr>
                  )}
                  {items.map((v) => (
                    <PeerRow key={rows[v.index].peer_id} p={rows[v.index]} index={v.index} measure={virt.measureElement} />
                  ))}
                  {padBottom > 0 && (
                    <tr aria-hidden="true" className="spacer">
                      <td colSpan={7} style={{ height: padBottom, padding: 0 }} />
                    </tr>
                  )}
                </>
              ) : (
                rows.map((p) => <PeerRow key={p.peer_id} p={p} />)
              )}
            </tbody>
          </table>
        </div>
      )}
    </>
  )
}

function Buckets({ buckets }: { buckets: NetworkInfo['libp2p']['buckets'] }) {
  const list = (buckets ?? []).filter((b) => b.peers > 0).sort((a, b) => a.index - b.index)
  if (list.length === 0) return <p className="muted">The routing table is empty.</p>
  const max = Math.max(20, ...list.map((b) => b.peers))
  return (
    <ul className="bar-list">
      {list.map((b) => (
        <li key={b.index}>
          <span className="bar-list-label">Bucket {b.index}</span>
          <span className="bar-list-bar" aria-hidden="true">
            <span style={{ width: `${(b.peers / max) * 100}%` }} />
          </span>
          <span className="bar-list-value">{b.peers}</span>
        </li>
      ))}
    </ul>
  )
}

function Topics({ n }: { n: NetworkInfo }) {
  const mesh = new Map((n.libp2p.mesh ?? []).map((m) => [m.topic, m.peers]))
  const topics = [...new Set([...(n.libp2p.topics ?? []), ...mesh.keys()])].sort()
  if (topics.length === 0) return <p className="muted">No gossip topics subscribed.</p>
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="DHT buckets and gossip topics (scrollable)">
      <table className="admin-table">
        <thead>
          <tr>
            <th scope="col">Topic</th>
            <th scope="col" className="num">
              Mesh peers
            </th>
          </tr>
        </thead>
        <tbody>
          {topics.map((t) => (
            <tr key={t}>
              <td className="break">
                <code>{t}</code>
              </td>
              <td className="num">{mesh.get(t) ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function AddrList({ addrs }: { addrs: string[] | undefined }) {
  if (!addrs || addrs.length === 0) return <span className="muted">none</span>
  return (
    <>
      {addrs.map((a, i) => (
        <code key={i} className="addr">
          {a}
        </code>
      ))}
    </>
  )
}

function NetworkView({ n, peers }: { n: NetworkInfo; peers: PeerInfo[] }) {
  const l = n.libp2p
  const summary: [string, ReactNode][] = [
    ['PeerId', <code className="break">{l.peer_id}</code>],
    ['Listening on', <AddrList addrs={l.listen_addrs} />],
    ['Connected peers', formatNumber(l.connected_peers, 0)],
    ['DHT peers', formatNumber(l.dht_peers, 0)],
    ['DHT records', formatNumber(l.dht_records, 0)],
    ['NAT', l.nat],
    ['Hole punching (DCUtR)', l.hole_punches_ok == null ? 'not reported' : `${formatNumber(l.hole_punches_ok, 0)} direct · ${formatNumber(l.hole_punches_failed ?? 0, 0)} failed`],
    ['DHT queries', l.dht_queries == null ? 'not reported' : formatNumber(l.dht_queries, 0)],
    ['Relay mode', typeof n.relay === 'boolean' ? (n.relay ? 'serving as a relay for others' : 'not relaying for others') : 'not reported'],
    ...(n.relay
      ? ([
          ['Relay clients', `${formatNumber(l.relay_clients ?? 0, 0)} with a reservation · ${formatNumber(l.relay_circuits ?? 0, 0)} circuits open`],
          ...(n.pin_limits
            ? [['Pin quotas', `${formatNumber(n.pin_limits.concurrent, 0)} at once · ${formatNumber(n.pin_limits.waiting, 0)} waiting · ${formatBytes(n.pin_limits.max_bytes)} per conversation`]]
            : []),
        ] as [string, ReactNode][])
      : []),
    ['Gossip', `${formatBytes(l.gossip_bytes_in)} in · ${formatBytes(l.gossip_bytes_out)} out`],
    ['Bootstrap', <AddrList addrs={n.bootstrap_addrs} />],
    ['iroh endpoint', <code className="break">{n.iroh?.endpoint_id ?? '—'}</code>],
    ['iroh relay', n.iroh?.home_relay ?? n.iroh?.relay_server ?? 'none'],
    ['iroh addresses', <AddrList addrs={n.iroh?.addrs} />],
    ['Blobs', `${formatNumber(n.fetched, 0)} fetched · ${formatNumber(n.rejected, 0)} rejected · ${formatNumber(n.pinned, 0)} pinned · ${formatNumber(n.pins_dropped, 0)} pins dropped`],
  ]
  return (
    <div className="admin-grid">
      <Card variant="outlined" className="admin-card">
        <h2>Summary</h2>
        <dl className="admin-dl">
          {summary.map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd className="break">{v}</dd>
            </Fragment>
          ))}
        </dl>
      </Card>
      <Card variant="outlined" className="admin-card">
        <h2>Graph</h2>
        <PeerGraph peers={peers} />
      </Card>
      <Card variant="outlined" className="admin-card admin-wide">
        <h2>Peers</h2>
        <PeerTable peers={peers} />
      </Card>
      <Card variant="outlined" className="admin-card">
        <h2>DHT buckets</h2>
        <Buckets buckets={l.buckets} />
      </Card>
      <Card variant="outlined" className="admin-card">
        <h2>Gossip topics</h2>
        <Topics n={n} />
      </Card>
    </div>
  )
}

export default function AdminNetwork() {
  const q = usePoll(async (signal) => {
    const [network, peers] = await Promise.all([getNetwork(signal), getPeers(signal)])
    return { network, peers }
  }, 5000)
  const off = q.error && isNetworkOff(q.error)
  return (
    <section className="admin">
      <AdminNav />
      <h1>Network</h1>
      <Updated at={off ? null : q.updatedAt} every="5 s" />
      {off ? (
        <Card variant="outlined" className="admin-card network-off">
          <p role="status">
            The peer-to-peer network is not running (start the node with <code>vivim up</code>).
          </p>
        </Card>
      ) : (
        <>
          {q.error && q.data !== undefined && <ErrorState layout="banner" kind={q.error.kind} message={q.error.message} onRetry={q.reload} />}
          <PageState q={q} skeleton="table">
            {(d) => <NetworkView n={d.network} peers={d.peers} />}
          </PageState>
        </>
      )}
    </section>
  )
}
