import { memo, useCallback, useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from 'react'
import { defaultRangeExtractor, useWindowVirtualizer, type Range } from '@tanstack/react-virtual'
import { Link, useNavigate, useParams } from 'react-router'
import { ApiError, client, ok } from '../api/client'
import type { CircleOut, ConversationDetail, MessageView, NewShare, ShareOut } from '../api/types'
import { loadConversation, saveConversation } from '../db'
import { reportOffline } from '../api/health'
import { Button, ErrorState, Input, Skeleton, StaleNote, showToast } from '../components'
import { highlightIn, renderMarkdown } from '../markdown'
import { scheduleDelete } from '../deletes'
import { b64ToBytes, loadWasm, shortDid } from '../wasm'
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
/** Context the model was given, by ChatGPT's content type: never a turn of the conversation. */
const CONTEXT: Record<string, string> = {
  user_editable_context: 'Custom instructions',
  model_editable_context: 'What ChatGPT remembered (memory)',
}

/** The label a folded message shows, or undefined when it is shown open: reasoning, tool
 * calls and results, and context (custom instructions, memory, system prompts). */
export function foldLabel(m: MessageView): string | undefined {
  return (
    FOLDED[m.kind] ??
    CONTEXT[m.meta?.content_type ?? ''] ??
    (m.role === 'system' ? 'System prompt' : m.kind === 'other' ? 'Hidden context' : undefined)
  )
}

/** Kinds that show something even without text. */
const CONTENT_KINDS = new Set(['image', 'file', 'tool_call', 'tool_result'])
/** Provider metadata that means the message carries an attachment. */
const ATTACHMENT_META = ['url', 'name', 'filename', 'mime', 'attachment', 'attachments', 'asset_pointer']

/** A node with nothing to show (e.g. ChatGPT's hidden empty system message): no text, no attachment, no tool content. */
export function isBlankMessage(m: MessageView): boolean {
  if (m.sealed) return false
  if ((m.text ?? '').trim() !== '') return false
  if (CONTENT_KINDS.has(m.kind)) return false
  return !ATTACHMENT_META.some((k) => m.meta?.[k])
}

/** What checking a message's signature in this browser found. */
export type AcuCheck =
  | { ok: true; author: string }
  /** `signer`: the signature verified, but for another DID than the message's author. */
  | { ok: false; why: string; signer?: string }
/** A message's badge: its check, or `'checking'` while that is under way. */
export type Sig = AcuCheck | 'checking'

/** The signature badge of one message, in its header. */
export const SigBadge = memo(function SigBadge({ sig }: { sig: Sig }) {
  if (sig === 'checking') return <span className="sig sig-checking">checking…</span>
  if (sig.ok)
    return (
      <span className="sig sig-ok" role="img" title={sig.author} aria-label={`Signature verified: signed by ${sig.author}`}>
        ✓ verified <span className="sig-by">signed by {shortDid(sig.author)}</span>
      </span>
    )
  if (sig.signer)
    return (
      <span className="sig sig-bad" role="img" title={sig.why} aria-label={`Signed by another key than the author's: ${sig.why}`}>
        ✗ signed by {shortDid(sig.signer)}, not its author
      </span>
    )
  return (
    <span className="sig sig-bad" role="img" title={sig.why} aria-label={`Signature does not verify: ${sig.why}`}>
      ✗ signature does not verify
    </span>
  )
})

const MISSING = 'no signed record of this message verifies (missing from the node, or altered)'
/** Records checked per slice of work, so a 10,000-message conversation never blocks the page. */
const VERIFY_CHUNK = 200
/** Checks per conversation version (most recent last). */
const VERIFY_CACHE_MAX = 8
const verifyCache = new Map<string, Map<string, AcuCheck>>()

type Verify =
  | { kind: 'idle' }
  | { kind: 'unavailable' }
  | { kind: 'checking' | 'done'; results: Map<string, AcuCheck>; n: number }
const IDLE: Verify = { kind: 'idle' }

/**
 * Checks the signature of every message of `detail` in this browser (the wasm package), from the
 * signed records the node stores: in slices of VERIFY_CHUNK between which the page stays
 * responsive, cached per conversation version. Nothing when offline (`skip`) or when the node
 * does not give the records; `unavailable` when this browser has no verifier.
 */
function useVerify(detail: ConversationDetail | null, skip: boolean): Verify {
  const [state, setState] = useState<Verify>(IDLE)
  useEffect(() => {
    setState(IDLE)
    if (!detail || skip) return
    const c = detail.conversation
    const key = `${c.id}@${c.version}`
    const hit = verifyCache.get(key)
    if (hit) {
      verifyCache.delete(key)
      verifyCache.set(key, hit)
      setState({ kind: 'done', results: hit, n: hit.size })
      return
    }
    let live = true
    ;(async () => {
      const w = await loadWasm()
      if (!live) return
      if (!w) return setState({ kind: 'unavailable' })
      let acus: string[]
      try {
        acus = (await ok(client.GET('/api/v2/conversations/{id}/signed', { params: { path: { id: c.id } } }))).acus
      } catch {
        return // offline, or an older node: the reader shows what it has, unbadged
      }
      if (!live) return
      const named = new Map(detail.messages.map((m) => [m.id, m.author]))
      const results = new Map<string, AcuCheck>()
      setState({ kind: 'checking', results, n: 0 })
      let shown = performance.now()
      for (let i = 0; i < acus.length; i += VERIFY_CHUNK) {
        const end = Math.min(acus.length, i + VERIFY_CHUNK)
        for (let j = i; j < end; j++) {
          try {
            const v = w.decodeAcu(b64ToBytes(acus[j]))
            const author = named.get(v.id)
            results.set(
              v.id,
              author === undefined || author === v.author
                ? { ok: true, author: v.author }
                : { ok: false, signer: v.author, why: `signed by ${v.author}, but the message names ${author} as its author` },
            )
          } catch {
            // Its id cannot be known from bytes that do not decode: the message stays unmatched.
          }
        }
        if (end < acus.length) {
          if (performance.now() - shown > 200) {
            shown = performance.now()
            setState({ kind: 'checking', results, n: end })
          }
          await new Promise((r) => setTimeout(r, 0))
          if (!live) return
        }
      }
      for (const m of detail.messages) if (!results.has(m.id)) results.set(m.id, { ok: false, why: MISSING })
      verifyCache.set(key, results)
      if (verifyCache.size > VERIFY_CACHE_MAX) verifyCache.delete(verifyCache.keys().next().value!)
      setState({ kind: 'done', results, n: results.size })
    })()
    return () => {
      live = false
    }
  }, [detail, skip])
  return state
}

// Rendered Markdown per message id (marked + DOMPurify is the costly part), so a message that
// scrolls out of the window and back is not parsed again. Least recently used goes first.
const HTML_CACHE_MAX = 800
const htmlCache = new Map<string, { text: string; html: string }>()
function markdownFor(id: string, text: string): string {
  const hit = htmlCache.get(id)
  if (hit && hit.text === text) {
    htmlCache.delete(id)
    htmlCache.set(id, hit)
    return hit.html
  }
  const html = renderMarkdown(text)
  htmlCache.set(id, { text, html })
  if (htmlCache.size > HTML_CACHE_MAX) htmlCache.delete(htmlCache.keys().next().value!)
  return html
}

const Body = memo(function Body({ m }: { m: MessageView }) {
  const ref = useRef<HTMLDivElement>(null)
  const text = m.text ?? ''
  const html = useMemo(() => (m.kind === 'code' || m.sealed ? null : markdownFor(m.id, text)), [m.id, m.kind, m.sealed, text])
  useEffect(() => {
    const el = ref.current
    // A code block scrolls sideways when wider than the screen: it takes focus, so the keyboard can scroll it.
    el?.querySelectorAll('pre').forEach((p) => {
      p.tabIndex = 0
    })
    void highlightIn(el)
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

type PathEntry = ReturnType<typeof buildPath>[number]

interface ItemProps {
  entry: PathEntry
  index: number
  count: number
  /** Offset from the top of the list, px. */
  top: number
  open: boolean
  /** Its signature badge; none when signatures are not checked. */
  sig?: Sig
  measure: (el: HTMLElement | null) => void
  onChoose: (key: string, id: string) => void
  onFold: (id: string, open: boolean) => void
}

/** One message of the feed: an article placed by the virtualizer, with its branch switcher. */
const MessageItem = memo(function MessageItem({ entry, index, count, top, open, sig, measure, onChoose, onFold }: ItemProps) {
  const { msg: m, siblings, key } = entry
  const folded = foldLabel(m)
  const at = siblings.length > 1 ? siblings.indexOf(m) : 0
  return (
    <article
      ref={measure}
      data-index={index}
      className="msg-slot"
      aria-label={`${m.role} message`}
      aria-posinset={index + 1}
      aria-setsize={count}
      tabIndex={0}
      style={{ transform: `translateY(${top}px)` }}
    >
      {siblings.length > 1 && (
        <div className="branch" role="group" aria-label="Branch">
          <Button size="sm" variant="ghost" aria-label="Previous branch" disabled={at === 0} onClick={() => onChoose(key, siblings[at - 1].id)}>
            ‹
          </Button>
          <span>
            Branch {at + 1} of {siblings.length}
          </span>
          <Button
            size="sm"
            variant="ghost"
            aria-label="Next branch"
            disabled={at === siblings.length - 1}
            onClick={() => onChoose(key, siblings[at + 1].id)}
          >
            ›
          </Button>
        </div>
      )}
      <div className={`msg role-${m.role}`}>
        <header className="msg-head">
          <span className="role">{m.role}</span>
          {m.kind !== 'text' && m.kind !== 'markdown' && <span className="tag">{m.kind}</span>}
          <time dateTime={m.created_at} className="muted">
            {formatDate(m.created_at_ms)}
          </time>
          {sig && <SigBadge sig={sig} />}
        </header>
        {folded ? (
          // Folded content is rendered only once opened; the open state outlives the virtual window.
          <details open={open} onToggle={(e) => e.currentTarget.open !== open && onFold(m.id, e.currentTarget.open)}>
            <summary>{folded}</summary>
            {open && <Body m={m} />}
          </details>
        ) : (
          <Body m={m} />
        )}
      </div>
    </article>
  )
})

/** Rough height of a message before it is measured, so the scrollbar is close from the start. */
function estimateHeight(e: PathEntry, width: number): number {
  const m = e.msg
  let h = 62 + (e.siblings.length > 1 ? 34 : 0)
  if (foldLabel(m) || m.sealed || m.kind === 'image' || m.kind === 'file') return h + 28
  const text = m.text ?? ''
  if (m.kind === 'code') return h + 24 + 20 * (text.split('\n').length)
  const perLine = Math.max(30, (Math.min(width, 1100) - 80) / 8.5)
  const lines = text.split('\n').reduce((n, l) => n + Math.max(1, Math.ceil(l.length / perLine)), 0)
  return h + 16 + 24 * lines
}

/**
 * The branch shown as a feed of articles, virtualized against the window: only the messages in
 * view (plus a few either side, and the focused one) are in the DOM, and only they are rendered
 * as Markdown. PageDown/PageUp move focus between articles (the WAI-ARIA feed pattern).
 */
export function MessageList({
  rows,
  onChoose,
  badge,
}: {
  rows: PathEntry[]
  onChoose: (key: string, id: string) => void
  /** The signature badge of a message (none: no badges). */
  badge?: (m: MessageView) => Sig | undefined
}) {
  const listRef = useRef<HTMLDivElement>(null)
  const [margin, setMargin] = useState(0)
  const [open, setOpen] = useState<ReadonlySet<string>>(() => new Set())
  const focused = useRef<number | null>(null)
  const pendingFocus = useRef<number | null>(null)
  const count = rows.length

  const rangeExtractor = useCallback(
    (range: Range) => {
      const idx = defaultRangeExtractor(range)
      const f = focused.current
      if (f != null && f < range.count && !idx.includes(f)) {
        idx.push(f)
        idx.sort((a, b) => a - b)
      }
      return idx
    },
    [],
  )
  const virt = useWindowVirtualizer({
    count,
    estimateSize: (i) => estimateHeight(rows[i], typeof window === 'undefined' ? 1024 : window.innerWidth),
    getItemKey: (i) => rows[i].msg.id,
    overscan: 4,
    scrollMargin: margin,
    rangeExtractor,
    initialRect: typeof window === 'undefined' ? undefined : { width: window.innerWidth, height: window.innerHeight },
  })

  // Where the list starts in the document (what is above it can change height).
  useLayoutEffect(() => {
    const el = listRef.current
    if (!el) return
    const top = Math.round(el.getBoundingClientRect().top + window.scrollY)
    if (top !== margin) setMargin(top)
  })
  const [, bump] = useState(0)
  useEffect(() => {
    const el = listRef.current
    const again = () => bump((x) => x + 1)
    window.addEventListener('resize', again)
    const ro = typeof ResizeObserver === 'undefined' || !el?.parentElement ? null : new ResizeObserver(again)
    if (ro && el?.parentElement) ro.observe(el.parentElement)
    return () => {
      window.removeEventListener('resize', again)
      ro?.disconnect()
    }
  }, [])

  // Focus an article once it is in the DOM (after PageDown/PageUp scrolled to it).
  useLayoutEffect(() => {
    const i = pendingFocus.current
    if (i == null) return
    const el = listRef.current?.querySelector<HTMLElement>(`article[data-index="${i}"]`)
    if (el) {
      pendingFocus.current = null
      el.focus({ preventScroll: true })
    }
  })

  const onFold = useCallback((id: string, isOpen: boolean) => {
    setOpen((s) => {
      const next = new Set(s)
      if (isOpen) next.add(id)
      else next.delete(id)
      return next
    })
  }, [])

  function onFocus(e: React.FocusEvent) {
    const art = (e.target as HTMLElement).closest<HTMLElement>('article[data-index]')
    focused.current = art ? Number(art.dataset.index) : null
  }
  function onBlur(e: React.FocusEvent) {
    if (!listRef.current?.contains(e.relatedTarget as Node | null)) focused.current = null
  }
  function onKeyDown(e: React.KeyboardEvent) {
    if (e.key !== 'PageDown' && e.key !== 'PageUp') return
    const art = (e.target as HTMLElement).closest<HTMLElement>('article[data-index]')
    if (!art) return
    const next = Number(art.dataset.index) + (e.key === 'PageDown' ? 1 : -1)
    if (next < 0 || next >= count) return
    e.preventDefault()
    focused.current = next
    pendingFocus.current = next
    virt.scrollToIndex(next, { align: 'start' })
    bump((x) => x + 1)
  }

  const items = virt.getVirtualItems()
  return (
    <div
      ref={listRef}
      className="messages"
      role="feed"
      aria-label="Messages"
      aria-busy="false"
      style={{ height: virt.getTotalSize() }}
      onFocus={onFocus}
      onBlur={onBlur}
      onKeyDown={onKeyDown}
    >
      {items.map((v) => {
        const entry = rows[v.index]
        if (!entry) return null
        return (
          <MessageItem
            key={v.key}
            entry={entry}
            index={v.index}
            count={count}
            top={v.start - virt.options.scrollMargin}
            open={open.has(entry.msg.id)}
            sig={badge?.(entry.msg)}
            measure={virt.measureElement}
            onChoose={onChoose}
            onFold={onFold}
          />
        )
      })}
    </div>
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
  const circleId = useId()
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
            <div className="field">
              <label className="field-label" htmlFor={circleId}>
                Circle
              </label>
              <select id={circleId} value={circle} onChange={(e) => setCircle(e.target.value)} required>
                {circles.length === 0 && <option value="">No circles yet</option>}
                {circles.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </div>
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

function afterPaint(f: () => void) {
  if (typeof requestIdleCallback === 'function') requestIdleCallback(f, { timeout: 1500 })
  else setTimeout(f, 200)
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
        // Cache it for offline use once the page has painted (a big conversation's structured
        // clone into IndexedDB would otherwise delay the first frame).
        afterPaint(() => void saveConversation(d).catch(() => {}))
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
  // Hidden empty nodes (no text, attachment or tool content) are not shown, unless they fork.
  const rows = useMemo(() => path.filter((p) => p.siblings.length > 1 || !isBlankMessage(p.msg)), [path])
  const choose = useCallback((key: string, id: string) => setChoice((ch) => ({ ...ch, [key]: id })), [])
  const verify = useVerify(detail, stale)
  const badge = useMemo(() => {
    if (verify.kind !== 'checking' && verify.kind !== 'done') return undefined
    const { results } = verify
    return (m: MessageView): Sig => results.get(m.id) ?? 'checking'
  }, [verify])
  const failures = useMemo(() => {
    if (verify.kind !== 'done') return 0
    let bad = 0
    for (const p of rows) if (verify.results.get(p.msg.id)?.ok === false) bad++
    return bad
  }, [verify, rows])

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
      {rows.length > 100 && (
        <p className="muted">Messages are drawn as you scroll, so the browser's find-in-page sees only those in view; Export has the whole text.</p>
      )}
      {verify.kind === 'unavailable' && (
        <p className="sig-note" role="note">
          Signatures are not checked in this browser: this node was built without the wasm verifier (bindings/wasm/build.sh).
        </p>
      )}
      {failures > 0 && (
        <p className="sig-note sig-note-bad" role="note">
          {failures === 1 ? '1 message does not verify' : `${failures} messages do not verify`}: {failures === 1 ? 'it is' : 'they are'} marked ✗.
        </p>
      )}
      <MessageList rows={rows} onChoose={choose} badge={badge} />
      {sharing && <ShareDialog id={c.id} onClose={() => setSharing(false)} />}
    </section>
  )
}
