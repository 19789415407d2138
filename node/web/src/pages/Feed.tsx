import { useEffect, useState, type FormEvent } from 'react'
import { Link } from 'react-router'
import { client, ok } from '../api/client'
import type { FeedItem, FeedPage, Opened } from '../api/types'
import { useCached } from '../api/useCached'
import { useNodeEvents } from '../api/events'
import { Button, ErrorState, Input, PageState } from '../components'
import { short } from '../components/DidForm'
import { formatDate } from './Conversations'

export const FEED_PAGE = 100

export const fetchFeed = (cursor?: string) => ok(client.GET('/api/v2/feed', { params: { query: { limit: FEED_PAGE, cursor } } }))

/** Paste a `vivim://share/…` link: the node fetches, checks and stores the conversation. */
function OpenLinkForm({ onOpened }: { onOpened: () => void }) {
  const [link, setLink] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [opened, setOpened] = useState<Opened | null>(null)
  async function submit(e: FormEvent) {
    e.preventDefault()
    const v = link.trim()
    if (!v) return setError('Paste a share link (vivim://share/…).')
    setBusy(true)
    setError(null)
    setOpened(null)
    try {
      setOpened(await ok(client.POST('/api/v2/open', { body: { link: v } })))
      setLink('')
      onOpened()
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <>
      <form className="row" onSubmit={submit}>
        <Input label="Share link" placeholder="vivim://share/…" value={link} onChange={(e) => setLink(e.target.value)} error={error} />
        <Button type="submit" variant="primary" loading={busy}>
          Open link
        </Button>
      </form>
      {opened && (
        <p role="status">
          Opened{' '}
          <Link to={`/c/${opened.conversation}`} dir="auto">
            {opened.title || 'Untitled'}
          </Link>{' '}
          <span className="muted">
            ({opened.acus} messages from {short(opened.source)}, {opened.seconds.toFixed(1)} s)
          </span>
        </p>
      )}
    </>
  )
}

export default function Feed() {
  const q = useCached<FeedPage>('feed', () => fetchFeed())
  // Pages after the first, fetched with the feed's cursor; cleared when the first page reloads.
  const [more, setMore] = useState<FeedItem[]>([])
  const [next, setNext] = useState<string | null>(null)
  const [loadingMore, setLoadingMore] = useState(false)
  const [moreError, setMoreError] = useState<string | null>(null)
  useEffect(() => {
    setMore([])
    setMoreError(null)
    setNext(q.stale ? null : (q.data?.next_cursor ?? null))
  }, [q.data, q.stale])
  useNodeEvents((e) => {
    if (e.type === 'feed_item' || e.type === 'lagged') q.reload()
  })
  async function loadMore() {
    if (!next) return
    setLoadingMore(true)
    setMoreError(null)
    try {
      const page = await fetchFeed(next)
      setMore((m) => [...m, ...page.items])
      setNext(page.next_cursor ?? null)
    } catch (err) {
      setMoreError(err instanceof Error ? err.message : String(err))
    } finally {
      setLoadingMore(false)
    }
  }
  return (
    <section>
      <h1>Feed</h1>
      <p className="muted">Shared with you, and what people you follow published. Newest first; updates live.</p>
      <OpenLinkForm onOpened={q.reload} />
      <PageState q={q} skeleton="conversation">
        {(page) => {
          const seen = new Set<string>()
          const items = [...page.items, ...more].filter((it) => {
            const k = `${it.kind}:${it.id}`
            if (seen.has(k)) return false
            seen.add(k)
            return true
          })
          return items.length === 0 ? (
            <p>Nothing here yet.</p>
          ) : (
            <>
              <ul className="list feed">
                {items
                  .sort((a, b) => b.at_ms - a.at_ms)
                  .map((it) => (
                    <li key={`${it.kind}:${it.id}`} className="list-row">
                      <span>
                        <span className="tag">{it.kind === 'shared' ? 'shared with you' : 'published'}</span>{' '}
                        {it.conversation ? (
                          <Link to={`/c/${it.conversation}`} dir="auto">
                            {it.title ?? 'Untitled'}
                          </Link>
                        ) : (
                          <span dir="auto">{it.title ?? 'Untitled'}</span>
                        )}{' '}
                        <span className="muted">
                          by <span dir="auto">{it.actor_name ?? short(it.actor)}</span> · {it.status} · {formatDate(it.at_ms)}
                        </span>
                      </span>
                    </li>
                  ))}
              </ul>
              {moreError && <ErrorState layout="banner" message={moreError} onRetry={() => void loadMore()} />}
              {next && (
                <Button onClick={() => void loadMore()} loading={loadingMore}>
                  Load older
                </Button>
              )}
            </>
          )
        }}
      </PageState>
    </section>
  )
}
