import { memo, useEffect, useMemo, useRef, useState } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { ApiError, client, ok } from '../api/client'
import type { CircleOut, ConversationDetail, MessageView, NewShare, ShareOut } from '../api/types'
import { loadConversation, saveConversation } from '../db'
import { reportOffline } from '../api/health'
import { Button, ErrorState, Input, Skeleton, StaleNote, showToast } from '../components'
import { highlightIn, renderMarkdown } from '../markdown'
import { scheduleDelete } from '../deletes'
import { formatDate } from './Conversations'

/** The branch shown: from a root, at each fork the chosen child (default: toward head, else the newest). */
export function buildPath(messages: MessageView[], head: string | null | undefined, choice: Record<string, string>) {
  const byId = new Map(messages.map((m) => [m.id, m]))
  const children = new Map<string, MessageView[]>()
  const roots: MessageView[] = []
  for (const m of messages) {
    if (m.parent && byId.has(m.parent)) {
      const list = children.get(m.parent) ?? []
      list.push(m)
      children.set(m.parent, list)
    } else roots.push(m)
  }
  const onHead = new Set<string>()
  let cur = head ? byId.get(head) : undefined
  while (cur) {
    onHead.add(cur.id)
    cur = cur.parent ? byId.get(cur.parent) : undefined
  }
  const pick = (list: MessageView[], key: string) =>
    list.find((m) => m.id === choice[key]) ?? list.find((m) => onHead.has(m.id)) ?? list[list.length - 1]
  const path: { msg: MessageView; siblings: MessageView[]; key: string }[] = []
  if (roots.length === 0) return path
  let node: MessageView | undefined = pick(roots, '')
  let key = ''
  let siblings = roots
  while (node) {
    path.push({ msg: node, siblings, key })
    const kids: MessageView[] = children.get(node.id) ?? []
    key = node.id
    siblings = kids
    node = kids.length ? pick(kids, node.id) : undefined
  }
  return path
}

const FOLDED: Record<string, string> = { thinking: 'Thinking', tool_call: 'Tool call', tool_result: 'Tool result' }

const Body = memo(function Body({ m }: { m: MessageView }) {
  const ref = useRef<HTMLDivElement>(null)
  const text = m.text ?? ''
  const html = useMemo(() => (m.kind === 'code' ? null : renderMarkdown(text)), [m.kind, text])
  useEffect(() => {
    void highlightIn(ref.current)
  }, [html, text])
  if (m.sealed) return <p className="muted">This message is sealed (encrypted; no key here).</p>
  if (m.kind === 'image' || m.kind === 'file') {
    const name = m.meta?.name || m.meta?.filename || text || m.kind
    return (
      <p className="attachment" dir="auto">
        <span aria-hidden="true">{m.kind === 'image' ? '🖼' : '📎'}</span> {m.kind === 'image' ? 'Image' : 'File'}: {name}
        {m.meta?.mime ? ` (${m.meta.mime})` : ''}
      </p>
    )
  }
  if (m.kind === 'code')
    return (
      <div ref={ref} className="md">
        <pre>
          <code className={m.lang ? `language-${m.lang}` : undefined}>{text}</code>
        </pre>
      </div>
    )
  return <div ref={ref} className="md" dir="auto" dangerouslySetInnerHTML={{ __html: html ?? '' }} />
})

function Message({ m }: { m: MessageView }) {
  const folded = FOLDED[m.kind]
  return (
    <article className={`msg role-${m.role}`} aria-label={`${m.role} message`}>
      <header className="msg-head">
        <span className="role">{m.role}</span>
        {m.kind !== 'text' && m.kind !== 'markdown' && <span className="tag">{m.kind}</span>}
        <time dateTime={m.created_at} className="muted">
          {formatDate(m.created_at_ms)}
        </time>
      </header>
      {folded ? (
        <details>
          <summary>{folded}</summary>
          <Body m={m} />
        </details>
      ) : (
        <Body m={m} />
      )}
    </article>
  )
}

export function ShareDialog({ id, onClose }: { id: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null)
  const [mode, setMode] = useState<'circle' | 'people' | 'link' | 'public'>('link')
  const [circles, setCircles] = useState<CircleOut[]>([])
  const [circle, setCircle] = useState('')
  const [dids, setDids] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [made, setMade] = useState<ShareOut | null>(null)
  useEffect(() => {
    const d = ref.current
    if (d && !d.open) {
      if (typeof d.showModal === 'function') d.showModal()
      else d.setAttribute('open', '')
    }
    ok(client.GET('/api/v2/circles'))
      .then((c) => {
        setCircles(c)
        if (c[0]) setCircle(c[0].id)
      })
      .catch(() => {})
  }, [])
  async function submit(e: React.FormEvent) {
    e.preventDefault()
    const body: NewShare = { content: id }
    if (mode === 'circle') body.circle = circle
    if (mode === 'people') body.to = dids.split(/[\s,]+/).filter(Boolean)
    if (mode === 'link') body.link = true
    if (mode === 'public') body.public = true
    setBusy(true)
    setError(null)
    try {
      setMade(await ok(client.POST('/api/v2/shares', { body })))
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="share-title" onClose={onClose}>
      <h2 id="share-title">Share</h2>
      {made ? (
        <div>
          <p>Shared ({made.audience}, {made.status}).</p>
          {made.link && (
            <p>
              Link: <code className="break">{made.link}</code>{' '}
              <Button size="sm" onClick={() => void navigator.clipboard?.writeText(made.link!)}>
                Copy link
              </Button>
            </p>
          )}
          <Button variant="primary" onClick={onClose}>
            Done
          </Button>
        </div>
      ) : (
        <form onSubmit={submit}>
          <fieldset>
            <legend>With whom</legend>
            {(
              [
                ['circle', 'A circle'],
                ['people', 'People (DIDs)'],
                ['link', 'Anyone with the link'],
                ['public', 'Public'],
              ] as const
            ).map(([v, l]) => (
              <label key={v} className="radio">
                <input type="radio" name="aud" value={v} checked={mode === v} onChange={() => setMode(v)} /> {l}
              </label>
            ))}
          </fieldset>
          {mode === 'circle' && (
            <label className="field">
              <span className="field-label">Circle</span>
              <select value={circle} onChange={(e) => setCircle(e.target.value)} required>
                {circles.length === 0 && <option value="">No circles yet</option>}
                {circles.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          {mode === 'people' && (
            <Input label="DIDs" helperText="did:key:… separated by spaces or commas" value={dids} onChange={(e) => setDids(e.target.value)} />
          )}
          {error && <ErrorState layout="banner" message={error} />}
          <div className="row">
            <Button type="submit" variant="primary" loading={busy}>
              Share
            </Button>
            <Button variant="ghost" onClick={onClose}>
              Cancel
            </Button>
          </div>
        </form>
      )}
    </dialog>
  )
}

async function download(id: string, format: 'md' | 'json', title: string) {
  try {
    const blob = await ok(client.GET('/api/v1/conversations/{id}/export', { params: { path: { id }, query: { format } }, parseAs: 'blob' }))
    const a = document.createElement('a')
    a.href = URL.createObjectURL(blob)
    a.download = `${title.replace(/[\\/:*?"<>|]+/g, '_').slice(0, 80) || id}.${format}`
    a.click()
    setTimeout(() => URL.revokeObjectURL(a.href), 1000)
  } catch (e) {
    showToast(`Export failed: ${e instanceof Error ? e.message : String(e)}`)
  }
}

export default function Reader() {
  const { id = '' } = useParams()
  const nav = useNavigate()
  const [detail, setDetail] = useState<ConversationDetail | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  const [stale, setStale] = useState(false)
  const [choice, setChoice] = useState<Record<string, string>>({})
  const [sharing, setSharing] = useState(false)
  const [forking, setForking] = useState(false)
  const [n, setN] = useState(0)

  useEffect(() => {
    let live = true
    setDetail(null)
    setError(null)
    ;(async () => {
      try {
        const d = await ok(client.GET('/api/v1/conversations/{id}', { params: { path: { id } } }))
        if (!live) return
        setDetail(d)
        setStale(false)
        void saveConversation(d).catch(() => {})
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e))
        if (err.kind === 'network') {
          reportOffline()
          const saved = await loadConversation(id).catch(() => undefined)
          if (!live) return
          if (saved) {
            setDetail(saved)
            setStale(true)
            return
          }
        }
        if (live) setError(err)
      }
    })()
    return () => {
      live = false
    }
  }, [id, n])

  const path = useMemo(() => (detail ? buildPath(detail.messages, detail.conversation.head, choice) : []), [detail, choice])

  if (error)
    return (
      <section>
        <h1>{error.kind === 'notFound' ? 'Conversation not found' : 'Conversation'}</h1>
        <ErrorState kind={error.kind} message={error.message} onRetry={() => setN((x) => x + 1)} />
      </section>
    )
  if (!detail)
    return (
      <section>
        <Skeleton variant="detail" rows={4} label="Loading the conversation" />
      </section>
    )
  const c = detail.conversation
  async function fork() {
    setForking(true)
    try {
      const f = await ok(client.POST('/api/v2/forks', { body: { conversation: c.id } }))
      showToast('Forked')
      nav(`/c/${f.conversation}`)
    } catch (e) {
      showToast(`Fork failed: ${e instanceof Error ? e.message : String(e)}`)
    } finally {
      setForking(false)
    }
  }
  return (
    <section className="reader">
      <p className="crumbs">
        <Link to="/">← Conversations</Link>
      </p>
      <h1 dir="auto">{c.title || 'Untitled'}</h1>
      <p className="muted">
        <span className="tag">{c.provider}</span> {c.model ? `· ${c.model}` : ''} · {c.message_count} {c.message_count === 1 ? 'message' : 'messages'} · updated{' '}
        {formatDate(c.updated_at_ms)}
        {c.source_url && (
          <>
            {' '}
            ·{' '}
            <a href={c.source_url} rel="noopener noreferrer" target="_blank">
              source
            </a>
          </>
        )}
      </p>
      <StaleNote show={stale} />
      <div className="row actions">
        <Button onClick={() => void download(c.id, 'md', c.title)}>Export</Button>
        <Button variant="tertiary" onClick={() => void download(c.id, 'json', c.title)}>
          Export JSON
        </Button>
        <Button onClick={fork} loading={forking}>
          Fork
        </Button>
        <Button onClick={() => setSharing(true)}>Share</Button>
        <Button
          variant="destructive"
          onClick={() => {
            scheduleDelete(c.id)
            nav('/')
          }}
        >
          Delete
        </Button>
      </div>
      <div className="messages">
        {path.map(({ msg, siblings, key }) => (
          <div key={msg.id}>
            {siblings.length > 1 && (
              <div className="branch" role="group" aria-label="Branch">
                <Button
                  size="sm"
                  variant="ghost"
                  aria-label="Previous branch"
                  disabled={siblings.indexOf(msg) === 0}
                  onClick={() => setChoice((ch) => ({ ...ch, [key]: siblings[siblings.indexOf(msg) - 1].id }))}
                >
                  ‹
                </Button>
                <span>
                  Branch {siblings.indexOf(msg) + 1} of {siblings.length}
                </span>
                <Button
                  size="sm"
                  variant="ghost"
                  aria-label="Next branch"
                  disabled={siblings.indexOf(msg) === siblings.length - 1}
                  onClick={() => setChoice((ch) => ({ ...ch, [key]: siblings[siblings.indexOf(msg) + 1].id }))}
                >
                  ›
                </Button>
              </div>
            )}
            <Message m={msg} />
          </div>
        ))}
      </div>
      {sharing && <ShareDialog id={c.id} onClose={() => setSharing(false)} />}
    </section>
  )
}
