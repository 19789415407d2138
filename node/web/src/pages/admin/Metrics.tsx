import { useMemo } from 'react'
import { getMetricsSeries, type MetricsSeries } from '../../api/admin'
import { Card, ErrorState, PageState } from '../../components'
import { AdminNav, Updated } from './AdminNav'
import { formatNumber } from './format'
import { LineChart, type Point, type Series } from './LineChart'
import { usePoll } from './usePoll'

export interface RouteRow {
  route: string
  requests: number
  mean_ms: number
}

/** Requests per route summed over the window; the mean latency is weighted by requests. */
export function routeTotals(m: MetricsSeries): RouteRow[] {
  const acc = new Map<string, { requests: number; ms: number }>()
  for (const s of m.samples)
    for (const r of Array.isArray(s.routes) ? s.routes : []) {
      const a = acc.get(r.route) ?? { requests: 0, ms: 0 }
      const n = Number(r.requests) || 0
      a.requests += n
      a.ms += (Number(r.mean_ms) || 0) * n
      acc.set(r.route, a)
    }
  return [...acc.entries()]
    .map(([route, a]) => ({ route, requests: a.requests, mean_ms: a.requests ? a.ms / a.requests : 0 }))
    .sort((a, b) => b.requests - a.requests || a.route.localeCompare(b.route))
}

function Charts({ m }: { m: MetricsSeries }) {
  const per = m.interval_secs > 0 ? m.interval_secs : 5
  const charts = useMemo(() => {
    const s = [...m.samples].sort((a, b) => a.t - b.t)
    const pts = (f: (x: MetricsSeries['samples'][number]) => number): Point[] => s.map((x) => [x.t, Number(f(x)) || 0])
    const rate = (f: (x: MetricsSeries['samples'][number]) => number) => pts((x) => (Number(f(x)) || 0) / per)
    const c = (i: number) => `var(--chart-${i})`
    const list: { title: string; unit: string; minMax?: number; series: Series[] }[] = [
      {
        title: 'Requests per second',
        unit: 'req/s',
        minMax: 1,
        series: [
          { label: 'Requests', points: rate((x) => x.requests), color: c(1) },
          { label: 'Errors (5xx)', points: rate((x) => x.errors), color: 'var(--danger)' },
        ],
      },
      {
        title: 'Latency',
        unit: 'ms',
        minMax: 10,
        series: [
          { label: 'p50', points: pts((x) => x.latency_p50_ms), color: c(2) },
          { label: 'p99', points: pts((x) => x.latency_p99_ms), color: c(3) },
        ],
      },
      { title: 'Import rate', unit: 'msg/s', minMax: 1, series: [{ label: 'Messages added', points: rate((x) => x.imported), color: c(4) }] },
      {
        title: 'Gossip traffic',
        unit: 'B/s',
        minMax: 1024,
        series: [
          { label: 'In', points: rate((x) => x.gossip_in_bytes), color: c(5) },
          { label: 'Out', points: rate((x) => x.gossip_out_bytes), color: c(6) },
        ],
      },
      { title: 'Connected peers', unit: 'peers', minMax: 5, series: [{ label: 'Peers', points: pts((x) => x.peers), color: c(1) }] },
      { title: 'DHT records', unit: 'records', minMax: 10, series: [{ label: 'DHT records', points: pts((x) => x.dht_records), color: c(7) }] },
      {
        title: 'DHT queries and blob transfers',
        unit: '/s',
        minMax: 1,
        series: [
          { label: 'DHT queries', points: rate((x) => x.dht_queries ?? 0), color: c(8) },
          { label: 'Conversations fetched', points: rate((x) => x.blobs_fetched), color: c(4) },
        ],
      },
      { title: 'Gossip messages', unit: 'msg/s', minMax: 1, series: [{ label: 'Received', points: rate((x) => x.gossip_messages ?? 0), color: c(5) }] },
      { title: 'Memory (RSS)', unit: 'B', minMax: 1024 * 1024, series: [{ label: 'RSS', points: pts((x) => x.rss_bytes), color: c(2) }] },
      { title: 'CPU', unit: '%', minMax: 10, series: [{ label: 'CPU', points: pts((x) => x.cpu_percent), color: c(3) }] },
    ]
    const domain: [number, number] | undefined = s.length ? [s[0].t, s[s.length - 1].t] : undefined
    return { list, domain }
  }, [m, per])
  const routes = useMemo(() => routeTotals(m), [m])
  const last = m.samples.length ? m.samples.reduce((a, b) => (b.t > a.t ? b : a)) : null
  if (m.samples.length === 0)
    return <p className="muted">No samples yet: the node records one every {per} s. Charts appear after the first.</p>
  return (
    <>
      <p className="muted">
        The last {Math.round((m.samples.length * per) / 60)} min, one sample every {per} s
        {last ? ` · ${formatNumber(last.acus, 0)} messages stored · ${formatNumber(last.blobs_fetched, 0)} blobs fetched in the last interval` : ''}.
      </p>
      <div className="chart-grid-list">
        {charts.list.map((ch) => (
          <Card key={ch.title} variant="outlined" className="admin-card">
            <LineChart title={ch.title} unit={ch.unit} minMax={ch.minMax} series={ch.series} xDomain={charts.domain} />
          </Card>
        ))}
      </div>
      <Card variant="outlined" className="admin-card">
        <h2>Requests by route</h2>
        {routes.length === 0 ? (
          <p className="muted">No requests in this window.</p>
        ) : (
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Requests by route (scrollable)">
            <table className="admin-table">
              <thead>
                <tr>
                  <th scope="col">Route</th>
                  <th scope="col" className="num">
                    Requests
                  </th>
                  <th scope="col" className="num">
                    Mean latency
                  </th>
                </tr>
              </thead>
              <tbody>
                {routes.map((r) => (
                  <tr key={r.route}>
                    <td>
                      <code>{r.route}</code>
                    </td>
                    <td className="num">{formatNumber(r.requests, 0)}</td>
                    <td className="num">{formatNumber(r.mean_ms)} ms</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  )
}

export default function AdminMetrics() {
  const q = usePoll((signal) => getMetricsSeries(signal), 5000)
  return (
    <section className="admin">
      <AdminNav />
      <h1>Metrics</h1>
      <Updated at={q.updatedAt} every="5 s" />
      {q.error && q.data !== undefined && <ErrorState layout="banner" kind={q.error.kind} message={q.error.message} onRetry={q.reload} />}
      <PageState q={q} skeleton="table">
        {(m) => <Charts m={m} />}
      </PageState>
    </section>
  )
}
