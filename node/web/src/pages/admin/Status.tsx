import { Fragment, useMemo } from 'react'
import { Link } from 'react-router'
import { getAdminStatus, semanticProgress, type AdminStatus, type Sizes } from '../../api/admin'
import { Button, Card, ErrorState, PageState, showToast } from '../../components'
import { ProviderLine } from '../../components/Provider'
import { AdminNav, Updated } from './AdminNav'
import { formatBytes, formatDuration, formatNumber, isAppPath } from './format'
import { qrcode } from './qr'
import { usePoll } from './usePoll'

/** The QR code as one SVG path built from the modules (no markup strings). */
export function QrSvg({ text, label }: { text: string; label: string }) {
  const { d, size } = useMemo(() => {
    const qr = qrcode(0, 'M')
    qr.addData(text)
    qr.make()
    const n = qr.getModuleCount()
    let path = ''
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) if (qr.isDark(r, c)) path += `M${c + 2} ${r + 2}h1v1h-1z`
    return { d: path, size: n + 4 }
  }, [text])
  return (
    <svg className="qr admin-qr" viewBox={`0 0 ${size} ${size}`} role="img" aria-label={label} shapeRendering="crispEdges">
      <title>{label}</title>
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  )
}

function copy(text: string, what: string) {
  const clip = typeof navigator !== 'undefined' ? navigator.clipboard : undefined
  if (!clip) {
    showToast(text)
    return
  }
  clip.writeText(text).then(
    () => showToast(`${what} copied`),
    () => showToast(text),
  )
}

function IdRow({ term, value }: { term: string; value: string }) {
  return (
    <>
      <dt>{term}</dt>
      <dd className="admin-id">
        <code className="break">{value || '—'}</code>
        {value && (
          <Button size="sm" variant="ghost" aria-label={`Copy ${term}`} onClick={() => copy(value, term)}>
            Copy
          </Button>
        )}
      </dd>
    </>
  )
}

export const SIZE_PARTS: { key: Exclude<keyof Sizes, 'total'>; label: string }[] = [
  { key: 'records', label: 'Conversation records' },
  { key: 'documents', label: 'Documents' },
  { key: 'shares', label: 'Shares' },
  { key: 'memories', label: 'Memories' },
  { key: 'blobs', label: 'Blobs' },
  { key: 'text_index', label: 'Full-text index' },
  { key: 'vectors', label: 'Vector index' },
]

function SizeBreakdown({ sizes }: { sizes: Sizes }) {
  const parts = SIZE_PARTS.map((p, i) => ({ ...p, bytes: Math.max(0, Number(sizes[p.key]) || 0), color: `var(--chart-${i + 1})` }))
  const sum = parts.reduce((a, p) => a + p.bytes, 0)
  const total = Math.max(Number(sizes.total) || 0, sum)
  const other = total - sum
  const rows = other > 0 ? [...parts, { key: 'other', label: 'Other', bytes: other, color: 'var(--chart-8)' }] : parts
  const pct = (b: number) => (total > 0 ? (b / total) * 100 : 0)
  return (
    <>
      <div className="stack-bar" role="img" aria-label={`Data directory: ${formatBytes(total)} in total`}>
        {rows
          .filter((r) => r.bytes > 0)
          .map((r) => (
            <span key={r.key} className="stack-seg" style={{ width: `${pct(r.bytes)}%`, background: r.color }} title={`${r.label}: ${formatBytes(r.bytes)}`} />
          ))}
      </div>
      <div className="table-wrap" tabIndex={0} role="region" aria-label="Data directory by part (scrollable)">
        <table className="admin-table">
          <thead>
            <tr>
              <th scope="col">Part</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col" className="num">
                Share
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key}>
                <td>
                  <span className="swatch" style={{ background: r.color }} aria-hidden="true" /> {r.label}
                </td>
                <td className="num">{formatBytes(r.bytes)}</td>
                <td className="num">{pct(r.bytes).toFixed(1)}%</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row">Total</th>
              <td className="num">
                <strong>{formatBytes(total)}</strong>
              </td>
              <td className="num">100%</td>
            </tr>
          </tfoot>
        </table>
      </div>
    </>
  )
}

/** A labelled progress bar; without a total it says how much is done so far. */
export function Progress({ label, done, total, note }: { label: string; done: number; total: number | null; note?: string }) {
  const known = total != null && total > 0
  const p = known ? Math.min(100, Math.round((done / total) * 100)) : 0
  return (
    <div className="admin-progress">
      <div className="admin-progress-head">
        <span>{label}</span>
        <span className="muted">
          {known ? `${formatNumber(done, 0)} / ${formatNumber(total, 0)} (${p}%)` : total === 0 ? 'nothing to do' : `${formatNumber(done, 0)} done`}
          {note ? ` · ${note}` : ''}
        </span>
      </div>
      <div
        className={known ? 'bar' : 'bar bar-indeterminate'}
        role="progressbar"
        aria-label={label}
        aria-valuemin={known ? 0 : undefined}
        aria-valuemax={known ? 100 : undefined}
        aria-valuenow={known ? p : undefined}
        aria-valuetext={known ? `${p}%` : `${done} done`}
      >
        <div className="bar-fill" style={{ width: known ? `${p}%` : total === 0 ? '100%' : undefined }} />
      </div>
    </div>
  )
}

function Background({ s }: { s: AdminStatus }) {
  // The node lists embedding as background work while it runs; otherwise show its progress here.
  const items = s.background
  const sem = items.some((b) => b.name === 'embedding') ? null : semanticProgress(s.semantic)
  const running = s.semantic?.running === true
  if (!sem && items.length === 0) return <p className="muted">No background work.</p>
  return (
    <div className="admin-stack">
      {sem && (
        <Progress
          label={`Semantic embedding${typeof s.semantic?.embedder === 'string' ? ` (${s.semantic.embedder})` : ''}`}
          done={sem.embedded}
          total={sem.embedded + sem.pending}
          note={running ? 'running' : sem.pending > 0 ? 'waiting' : 'idle'}
        />
      )}
      {items.map((b, i) => (
        <Progress key={`${b.name}-${i}`} label={b.label || b.name} done={Number(b.done) || 0} total={typeof b.total === 'number' ? b.total : null} />
      ))}
    </div>
  )
}

function StatusView({ s }: { s: AdminStatus }) {
  const c = s.counts
  const counts: [string, number | undefined][] = [
    ['Conversations', c?.conversations ?? s.conversations],
    ['Messages', c?.messages ?? s.acus],
    ['Memories', c?.memories],
    ['Documents', c?.documents],
    ['Shares', c?.shares],
    ['Feed items', c?.feed],
  ]
  return (
    <div className="admin-grid">
      <Card variant="outlined" className="admin-card admin-wide">
        <h2>Needs attention</h2>
        {s.attention.length === 0 ? (
          <p className="muted">Nothing needs attention.</p>
        ) : (
          <ul className="attention">
            {s.attention.map((a, i) => (
              <li key={i} className={`attention-item attention-${a.kind.replace(/[^a-z0-9_-]/gi, '')}`}>
                <span className="tag">{a.kind}</span>{' '}
                {isAppPath(a.link) ? <Link to={a.link}>{a.message}</Link> : <span dir="auto">{a.message}</span>}
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Card variant="outlined" className="admin-card admin-wide">
        <h2>Identity</h2>
        <div className="identity">
          <dl className="admin-dl">
            <IdRow term="DID" value={s.did} />
            <IdRow term="PeerId" value={s.peer_id} />
            <IdRow term="EndpointId" value={s.endpoint_id} />
          </dl>
          {s.did && <QrSvg text={s.did} label={`QR code of ${s.did}`} />}
        </div>
      </Card>
      <Card variant="outlined" className="admin-card">
        <h2>Node</h2>
        <dl className="admin-dl">
          <dt>Version</dt>
          <dd>{s.version}</dd>
          <dt>Up for</dt>
          <dd>{formatDuration(s.uptime_seconds)}</dd>
          <dt>Network</dt>
          <dd>{s.network ? 'peer-to-peer network on' : 'off (started with --no-network)'}</dd>
          <dt>Model provider</dt>
          <dd>
            <ProviderLine p={s.provider} />
          </dd>
          <dt>Other allowed origins</dt>
          <dd className="break">{s.cors_origins.length ? s.cors_origins.join(', ') : 'none'}</dd>
          <dt>Search index</dt>
          <dd>{formatNumber(s.index_docs, 0)} documents</dd>
        </dl>
      </Card>
      <Card variant="outlined" className="admin-card">
        <h2>Counts</h2>
        <dl className="admin-dl">
          {counts.map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd>{formatNumber(v, 0)}</dd>
            </Fragment>
          ))}
        </dl>
      </Card>
      <Card variant="outlined" className="admin-card admin-wide">
        <h2>Data directory</h2>
        <p className="break">
          <code>{s.data_dir}</code>
        </p>
        {s.sizes ? <SizeBreakdown sizes={s.sizes} /> : <p className="muted">This node does not report sizes.</p>}
      </Card>
      <Card variant="outlined" className="admin-card admin-wide">
        <h2>Background work</h2>
        <Background s={s} />
      </Card>
    </div>
  )
}

export default function AdminStatusPage() {
  const q = usePoll((signal) => getAdminStatus(signal), 5000)
  return (
    <section className="admin">
      <AdminNav />
      <h1>Node status</h1>
      <Updated at={q.updatedAt} every="5 s" />
      {q.error && q.data !== undefined && <ErrorState layout="banner" kind={q.error.kind} message={q.error.message} onRetry={q.reload} />}
      <PageState q={q} skeleton="table">
        {(s) => <StatusView s={s} />}
      </PageState>
    </section>
  )
}
