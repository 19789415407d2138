import { useId, useState, type FormEvent } from 'react'
import { Link, useSearchParams } from 'react-router'
import { client, ok } from '../api/client'
import type { MemoryView } from '../api/types'
import { useCached } from '../api/useCached'
import { Button, Input, PageState, showToast } from '../components'
import { formatDate } from './Conversations'

function MemoryItem({ m, all, onChange }: { m: MemoryView; all: MemoryView[]; onChange: () => void }) {
  const [editing, setEditing] = useState(false)
  const [text, setText] = useState(m.content)
  const [busy, setBusy] = useState(false)
  const history = all.filter((o) => o.superseded_by === m.id || o.merged_into === m.id)
  async function save(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    try {
      await ok(client.PATCH('/api/v2/memories/{id}', { params: { path: { id: m.id } }, body: { content: text } }))
      setEditing(false)
      onChange()
    } catch (err) {
      showToast(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <li className={`memory card card-outlined state-${m.consolidation}`}>
      {editing ? (
        <form onSubmit={save}>
          <label className="field">
            <span className="field-label">Memory</span>
            <textarea dir="auto" value={text} onChange={(e) => setText(e.target.value)} rows={3} />
          </label>
          <div className="row">
            <Button type="submit" variant="primary" size="sm" loading={busy}>
              Save
            </Button>
            <Button size="sm" variant="ghost" onClick={() => setEditing(false)}>
              Cancel
            </Button>
          </div>
        </form>
      ) : (
        <p dir="auto">{m.content}</p>
      )}
      <p className="muted">
        <span className="tag">{m.memory_type}</span> <span className="tag">{m.consolidation}</span> importance {m.importance.toFixed(2)} · strength{' '}
        {m.strength.toFixed(2)} · since {formatDate(m.valid_from_ms)}
        {m.slot ? ` · slot “${m.slot}”` : ''}
        {m.conversation && (
          <>
            {' '}
            · <Link to={`/c/${m.conversation}`}>source</Link>
          </>
        )}
      </p>
      {m.consolidation === 'active' && !editing && (
        <div className="row">
          <Button size="sm" onClick={() => setEditing(true)}>
            Edit
          </Button>
          <Button
            size="sm"
            variant="destructive"
            onClick={() => ok(client.DELETE('/api/v2/memories/{id}', { params: { path: { id: m.id } } })).then(onChange, (e: Error) => showToast(e.message))}
          >
            Delete
          </Button>
        </div>
      )}
      {history.length > 0 && (
        <details>
          <summary>History ({history.length} earlier)</summary>
          <ul>
            {history.map((h) => (
              <li key={h.id} dir="auto">
                {h.content} <span className="muted">({h.consolidation}, {formatDate(h.valid_from_ms)})</span>
              </li>
            ))}
          </ul>
        </details>
      )}
    </li>
  )
}

export default function Memories() {
  const [params, setParams] = useSearchParams()
  const q = params.get('q') ?? ''
  const type = params.get('type') ?? ''
  const showAll = params.get('all') === '1'
  const data = useCached<MemoryView[]>(`memories:${q}:${type}`, () => ok(client.GET('/api/v2/memories', { params: { query: { q: q || undefined, type: type || undefined, all: true, limit: 500 } } })))
  const [newText, setNewText] = useState('')
  const uid = useId()
  async function add(e: FormEvent) {
    e.preventDefault()
    if (!newText.trim()) return
    try {
      const r = await ok(client.POST('/api/v2/memories', { body: { content: newText.trim() } }))
      showToast(`Memory ${r.outcome}`)
      setNewText('')
      data.reload()
    } catch (err) {
      showToast(err instanceof Error ? err.message : String(err))
    }
  }
  return (
    <section>
      <h1>Memories</h1>
      <form
        className="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault()
          const f = new FormData(e.currentTarget)
          const n = new URLSearchParams()
          const nq = String(f.get('q') ?? '')
          if (nq) n.set('q', nq)
          const t = String(f.get('type') ?? '')
          if (t) n.set('type', t)
          if (showAll) n.set('all', '1')
          setParams(n)
        }}
      >
        <label className="field">
          <span className="field-label">Search memories</span>
          <input type="search" name="q" defaultValue={q} dir="auto" />
        </label>
        <span className="inline-field">
          <label htmlFor={`${uid}-type`}>Type</label>
          <select id={`${uid}-type`} name="type" defaultValue={type}>
            <option value="">any</option>
            {['episodic', 'semantic', 'procedural', 'working', 'other'].map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </span>
        <Button type="submit">Find</Button>
        <label>
          <input
            type="checkbox"
            checked={showAll}
            onChange={(e) => {
              const n = new URLSearchParams(params)
              if (e.target.checked) n.set('all', '1')
              else n.delete('all')
              setParams(n)
            }}
          />{' '}
          Show superseded and merged
        </label>
      </form>
      <form className="row" onSubmit={add}>
        <Input label="New memory" value={newText} onChange={(e) => setNewText(e.target.value)} />
        <Button type="submit" variant="primary">
          Remember
        </Button>
      </form>
      <PageState q={data} skeleton="table">
        {(list) => {
          const shown = showAll ? list : list.filter((m) => m.consolidation === 'active')
          return shown.length === 0 ? (
            <p>No memories{q ? ` matching “${q}”` : ''}.</p>
          ) : (
            <ul className="memories">
              {shown.map((m) => (
                <MemoryItem key={m.id} m={m} all={list} onChange={data.reload} />
              ))}
            </ul>
          )
        }}
      </PageState>
    </section>
  )
}
