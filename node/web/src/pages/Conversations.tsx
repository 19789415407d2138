import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react'
import { Link } from 'react-router'
import { useVirtualizer } from '@tanstack/react-virtual'
import { ApiError, client, ok } from '../api/client'
import type { ConversationPage, ConversationView, IdentityView } from '../api/types'
import { loadKv, loadPage, savePage } from '../db'
import { reportOffline } from '../api/health'
import { useNodeEvents } from '../api/events'
import { ErrorState, Skeleton, StaleNote } from '../components'
import { usePendingDeletes } from '../deletes'

export const PAGE_SIZE = 100

export async function fetchConversationPage(cursor: string): Promise<{ page: ConversationPage; stale: boolean }> {
  try {
    const page = await ok(client.GET('/api/v1/conversations', { params: { query: { cursor: cursor || undefined, limit: PAGE_SIZE } } }))
    void savePage(cursor, page).catch(() => {})
    return { page, stale: false }
  } catch (e) {
    if (e instanceof ApiError && e.kind === 'network') {
      reportOffline()
      const saved = await loadPage(cursor).catch(() => undefined)
      if (saved) return { page: saved, stale: true }
    }
    throw e
  }
}

export function formatDate(ms: number): string {
  try {
    return new Date(ms).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' })
  } catch {
    return ''
  }
}

type Source = 'all' | 'mine' | 'others'

export default function Conversations() {
  const [rows, setRows] = useState<ConversationView[]>([])
  const [next, setNext] = useState<string | null | undefined>('')
  const [loading, setLoading] = useState(false)
  const [error, setError] = useState<ApiError | null>(null)
  const [stale, setStale] = useState(false)
  const [provider, setProvider] = useState('')
  const [source, setSource] = useState<Source>('all')
  const uid = useId()
  const [me, setMe] = useState<string | null>(null)
  const loadingRef = useRef(false)
  const pendingDeletes = usePendingDeletes()

  const loadMore = useCallback(async (cursor: string | null | undefined, replace = false) => {
    if (cursor === null || cursor === undefined || loadingRef.current) return
    loadingRef.current = true
    setLoading(true)
    try {
      const { page, stale } = await fetchConversationPage(cursor)
      setRows((r) => {
        const base = replace ? [] : r
        const seen = new Set(base.map((c) => c.id))
        return [...base, ...page.items.filter((c) => !seen.has(c.id))]
      })
      setNext(page.next_cursor ?? null)
      setStale(stale)
      setError(null)
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'network', String(e)))
    } finally {
      loadingRef.current = false
      setLoading(false)
    }
  }, [])

  useEffect(() => {
    void loadMore('', true)
    ok(client.GET('/api/v1/identity'))
      .then((id) => setMe(id.did))
      .catch(() => loadKv<IdentityView>('identity').then((r) => setMe(r?.value.did ?? null)))
  }, [loadMore])

  // New or deleted conversations: reload the first page.
  useNodeEvents((e) => {
    if (e.type === 'import_finished' || e.type === 'conversation_deleted') void loadMore('', true)
  })

  const providers = useMemo(() => [...new Set(rows.map((r) => r.provider))].sort(), [rows])
  const visible = useMemo(
    () =>
      rows.filter(
        (r) =>
          !pendingDeletes.has(r.id) &&
          (!provider || r.provider === provider) &&
          (source === 'all' || !me || (source === 'mine' ? r.owner === me : r.owner !== me)),
      ),
    [rows, provider, source, me, pendingDeletes],
  )

  const parentRef = useRef<HTMLDivElement>(null)
  const virt = useVirtualizer({
    count: visible.length,
    getScrollElement: () => parentRef.current,
    estimateSize: () => 72,
    overscan: 8,
    initialRect: { width: 800, height: 800 },
  })
  const items = virt.getVirtualItems()
  const last = items[items.length - 1]
  useEffect(() => {
    if (!loading && next != null && (visible.length === 0 ? rows.length > 0 : last && last.index >= visible.length - 20)) void loadMore(next)
  }, [last?.index, visible.length, rows.length, next, loading, loadMore, last])

  const filtered = provider !== '' || source !== 'all'
  return (
    <section className="page-conversations">
      <h1>Conversations</h1>
      <div className="toolbar">
        <span className="inline-field">
          <label htmlFor={`${uid}-provider`}>Provider</label>
          <select id={`${uid}-provider`} value={provider} onChange={(e) => setProvider(e.target.value)}>
            <option value="">All providers</option>
            {providers.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </span>
        <span className="inline-field">
          <label htmlFor={`${uid}-source`}>Source</label>
          <select id={`${uid}-source`} value={source} onChange={(e) => setSource(e.target.value as Source)}>
            <option value="all">All sources</option>
            <option value="mine">Mine (imported or captured here)</option>
            <option value="others">From others (shared, opened)</option>
          </select>
        </span>
        {filtered && <span className="muted">Filtering the {rows.length} loaded conversations; more load as you scroll.</span>}
      </div>
      <StaleNote show={stale} />
      {error && rows.length === 0 ? (
        <ErrorState kind={error.kind} message={error.message} onRetry={() => void loadMore('', true)} />
      ) : rows.length === 0 && (loading || next === '') ? (
        <Skeleton variant="conversation" />
      ) : rows.length === 0 ? (
        <p>
          No conversations yet. <Link to="/import">Import an export</Link>.
        </p>
      ) : (
        <div ref={parentRef} className="vlist" role="list" aria-label="Conversations" aria-busy={loading || undefined}>
          <div style={{ height: virt.getTotalSize(), position: 'relative' }}>
            {items.map((v) => {
              const c = visible[v.index]
              return (
                <div
                  key={c.id}
                  role="listitem"
                  className="vrow"
                  data-index={v.index}
                  ref={virt.measureElement}
                  style={{ position: 'absolute', top: 0, left: 0, right: 0, transform: `translateY(${v.start}px)` }}
                >
                  <Link to={`/c/${c.id}`} className="conv-row">
                    <span className="conv-title" dir="auto">
                      {c.title || 'Untitled'}
                    </span>
                    <span className="conv-meta">
                      <span className="tag">{c.provider}</span> · {c.message_count} {c.message_count === 1 ? 'message' : 'messages'} · <time dateTime={c.updated_at}>{formatDate(c.updated_at_ms)}</time>
                    </span>
                  </Link>
                </div>
              )
            })}
          </div>
        </div>
      )}
      {error && rows.length > 0 && <ErrorState layout="banner" kind={error.kind} message={error.message} onRetry={() => void loadMore(next)} />}
      {loading && rows.length > 0 && <p className="muted" aria-live="polite">Loading more…</p>}
    </section>
  )
}
