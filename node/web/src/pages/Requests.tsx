import { useEffect, useId, useRef, useState } from 'react'
import { ApiError } from '../api/client'
import { useNodeEvents } from '../api/events'
import { decideRequest, fetchRequests, setRequestCount, type RequestAction } from '../api/requests'
import type { RequestItem, RequestOutcome, RequestView } from '../api/types'
import { useCached } from '../api/useCached'
import { Button, ErrorState, PageState, showToast } from '../components'
import { short } from '../components/DidForm'
import { formatBytes, formatDateTime } from './admin/format'

/** What a request item is, in plain words (the sender is the subject). */
export function describeItem(kind: string): string {
  switch (kind) {
    case 'share':
    case 'share_ref':
      return 'shared a conversation with you'
    case 'graph':
      return 'sent a friend request or follows you'
    case 'circle':
      return 'added you to a circle'
    case 'group':
      return 'added you to a group'
    case 'team':
      return 'added you to a team'
    default:
      return `sent you something (${kind})`
  }
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

/** The toast after a decision: "Accepted did:key:z6Mk…: 1 share opening". */
export function outcomeText(o: RequestOutcome): string {
  const who = short(o.did)
  if (o.decision === 'ignored') return `Ignored ${who}`
  if (o.decision === 'blocked') return `Blocked ${who}`
  const parts = [
    o.shares > 0 ? plural(o.shares, 'share opening', 'shares opening') : '',
    o.documents > 0 ? plural(o.documents, 'document tracked', 'documents tracked') : '',
  ].filter(Boolean)
  return `Accepted ${who}${parts.length ? `: ${parts.join(', ')}` : ' (now a contact)'}`
}

function ItemLine({ it }: { it: RequestItem }) {
  return (
    <li>
      {describeItem(it.kind)}
      {it.title && (
        <>
          {': '}
          <span dir="auto">“{it.title}”</span>
        </>
      )}
      {it.size != null && <span className="muted"> · {formatBytes(it.size)}</span>}
      <span className="muted">
        {' '}
        · <time dateTime={new Date(it.at_ms).toISOString()}>{formatDateTime(it.at_ms)}</time>
      </span>
    </li>
  )
}

function RequestCard({ r, headId, onDone }: { r: RequestView; headId: string; onDone: (o: RequestOutcome) => void }) {
  const didId = `${headId}-did`
  const [busy, setBusy] = useState<RequestAction | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  async function decide(action: RequestAction) {
    setBusy(action)
    setError(null)
    try {
      const o = await decideRequest(r.did, action)
      onDone(o)
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'error', String(e)))
      setBusy(null)
    }
  }
  const seen = (ms: number) => <time dateTime={new Date(ms).toISOString()}>{formatDateTime(ms)}</time>
  return (
    <li className="request card card-outlined" aria-labelledby={headId}>
      <h2 id={headId} className="request-from" tabIndex={-1}>
        <span className="muted">From</span>{' '}
        <code id={didId} title={r.did}>
          {short(r.did)}
        </code>
      </h2>
      <ul className="request-items">
        {r.items.map((it) => (
          <ItemLine key={`${it.kind}:${it.id}`} it={it} />
        ))}
      </ul>
      <p className="muted request-seen">
        First seen {seen(r.first_seen_ms)}
        {r.last_seen_ms !== r.first_seen_ms && <> · last seen {seen(r.last_seen_ms)}</>}
      </p>
      {error && <ErrorState layout="banner" kind={error.kind} message={error.message} />}
      <div className="row">
        <Button size="sm" variant="primary" aria-describedby={didId} loading={busy === 'accept'} disabled={busy !== null} onClick={() => void decide('accept')}>
          Accept
        </Button>
        <Button size="sm" aria-describedby={didId} loading={busy === 'ignore'} disabled={busy !== null} onClick={() => void decide('ignore')}>
          Ignore
        </Button>
        <Button size="sm" variant="destructive" aria-describedby={didId} loading={busy === 'block'} disabled={busy !== null} onClick={() => void decide('block')}>
          Block
        </Button>
      </div>
    </li>
  )
}

export default function Requests() {
  const q = useCached<RequestView[]>('requests', fetchRequests)
  const uid = useId()
  const h1 = useRef<HTMLHeadingElement>(null)
  // After a decision its card goes away: focus moves to the next card's heading ('' → the page's h1).
  const [focus, setFocus] = useState<string | null>(null)
  const headId = (i: number) => `${uid}-req-${i}`
  useNodeEvents((e) => {
    if (e.type === 'request' || e.type === 'lagged') q.reload()
  })
  useEffect(() => {
    if (q.data && !q.stale) setRequestCount(q.data.length)
  }, [q.data, q.stale])
  useEffect(() => {
    if (focus === null) return
    const i = focus ? (q.data ?? []).findIndex((r) => r.did === focus) : -1
    const el = i >= 0 ? document.getElementById(headId(i)) : h1.current
    el?.focus()
    setFocus(null)
  }, [focus, q.data])
  function done(did: string, o: RequestOutcome) {
    const list = q.data ?? []
    const i = list.findIndex((r) => r.did === did)
    const rest = list.filter((r) => r.did !== did)
    setFocus((rest[i] ?? rest[i - 1])?.did ?? '')
    q.setData((l) => l?.filter((r) => r.did !== did))
    showToast(outcomeText({ ...o, did: o.did || did }))
  }
  return (
    <section>
      <h1 ref={h1} tabIndex={-1}>
        Requests
      </h1>
      <p className="muted">
        People you do not know yet cannot make your node download or follow anything until you accept. Nothing is sent back to them before you accept.
      </p>
      <p className="muted">Accept makes them a contact and opens what they sent; Ignore drops the request; Block drops it and blocks them.</p>
      <PageState q={q} skeleton="table">
        {(list) =>
          list.length === 0 ? (
            <div className="requests-empty">
              <p>No requests</p>
              <p className="muted">When someone you do not know shares a conversation with you or adds you to a circle, group or team, it waits here for you.</p>
            </div>
          ) : (
            <ul className="requests" aria-label="Pending requests">
              {list.map((r, i) => (
                <RequestCard key={r.did} r={r} headId={headId(i)} onDone={(o) => done(r.did, o)} />
              ))}
            </ul>
          )
        }
      </PageState>
    </section>
  )
}
