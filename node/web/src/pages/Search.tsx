import { useId, useState, type FormEvent } from 'react'
import { Link, useSearchParams } from 'react-router'
import { client, ok } from '../api/client'
import { useCached } from '../api/useCached'
import { Button, PageState } from '../components'
import type { paths } from '../api/schema.gen'

type SearchQuery = paths['/api/v1/search']['get']['parameters']['query']
const searchApi = (query: SearchQuery) => ok(client.GET('/api/v1/search', { params: { query } }))
type HitView = Awaited<ReturnType<typeof searchApi>>['hits'][number]

/** Splits a snippet at its highlighted UTF-8 byte ranges, as text (never as HTML). */
export function highlightParts(snippet: string, ranges: [number, number][] | number[][]): { text: string; hit: boolean }[] {
  const bytes = new TextEncoder().encode(snippet)
  const dec = new TextDecoder()
  const sorted = [...ranges].map((r) => [r[0], r[1]] as [number, number]).sort((a, b) => a[0] - b[0])
  const out: { text: string; hit: boolean }[] = []
  let pos = 0
  for (const [s, e] of sorted) {
    if (s < pos || e > bytes.length || s >= e) continue
    if (s > pos) out.push({ text: dec.decode(bytes.slice(pos, s)), hit: false })
    out.push({ text: dec.decode(bytes.slice(s, e)), hit: true })
    pos = e
  }
  if (pos < bytes.length) out.push({ text: dec.decode(bytes.slice(pos)), hit: false })
  return out
}

function Hit({ h }: { h: HitView }) {
  return (
    <li className="hit">
      <Link to={`/c/${h.conversation}`} className="hit-title" dir="auto">
        {h.title || 'Untitled'}
      </Link>
      <span className="muted">
        {' '}
        · <span className="tag">{h.provider}</span> · {h.role}
      </span>
      <p className="snippet" dir="auto">
        {highlightParts(h.snippet, h.highlights).map((p, i) => (p.hit ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
      </p>
    </li>
  )
}

export default function Search() {
  const [params, setParams] = useSearchParams()
  const q = params.get('q') ?? ''
  const mode = params.get('mode') ?? 'text'
  const provider = params.get('provider') ?? ''
  const role = params.get('role') ?? ''
  const [text, setText] = useState(q)
  const uid = useId()
  const key = q ? `search:${mode}:${provider}:${role}:${q}` : null
  const res = useCached(key, async () =>
    q ? searchApi({ q, mode, provider: provider || undefined, role: role || undefined, limit: 50 }) : null,
  )

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const f = new FormData(e.currentTarget)
    const next = new URLSearchParams()
    const nq = String(f.get('q') ?? '').trim()
    if (nq) next.set('q', nq)
    next.set('mode', String(f.get('mode') ?? 'text'))
    const p = String(f.get('provider') ?? '').trim()
    const r = String(f.get('role') ?? '')
    if (p) next.set('provider', p)
    if (r) next.set('role', r)
    setParams(next)
  }

  return (
    <section>
      <h1>Search</h1>
      <form className="search-form" role="search" onSubmit={submit} key={`${q}|${mode}|${provider}|${role}`}>
        <label className="field">
          <span className="sr-only">Search</span>
          <input type="search" name="q" aria-label="Search" dir="auto" value={text} onChange={(e) => setText(e.target.value)} placeholder="Search your conversations" />
        </label>
        <span className="inline-field">
          <label htmlFor={`${uid}-mode`}>Mode</label>
          <select id={`${uid}-mode`} name="mode" defaultValue={mode}>
            <option value="text">text</option>
            <option value="vector">vector</option>
            <option value="hybrid">hybrid</option>
          </select>
        </span>
        <span className="inline-field">
          <label htmlFor={`${uid}-provider`}>Provider</label>
          <input id={`${uid}-provider`} name="provider" defaultValue={provider} size={10} placeholder="any" />
        </span>
        <span className="inline-field">
          <label htmlFor={`${uid}-role`}>Role</label>
          <select id={`${uid}-role`} name="role" defaultValue={role}>
            <option value="">any</option>
            <option value="user">user</option>
            <option value="assistant">assistant</option>
            <option value="system">system</option>
            <option value="tool">tool</option>
          </select>
        </span>
        <Button type="submit" variant="primary">
          Search
        </Button>
      </form>
      {q ? (
        <PageState q={res} skeleton="table">
          {(r) =>
            r && r.hits.length > 0 ? (
              <>
                <p className="muted">{r.total} matches</p>
                <ol className="hits">
                  {r.hits.map((h) => (
                    <Hit key={h.acu} h={h} />
                  ))}
                </ol>
              </>
            ) : (
              <p>Nothing matched “{q}”.</p>
            )
          }
        </PageState>
      ) : (
        <p className="muted">Type words to find in your conversations.</p>
      )}
    </section>
  )
}
