import { useState, type FormEvent } from 'react'
import { client, ok } from '../api/client'
import type { CircleOut } from '../api/types'
import { useCached } from '../api/useCached'
import { useNodeEvents } from '../api/events'
import { Button, Card, Input, PageState, showToast } from '../components'
import { DidForm, short } from '../components/DidForm'

export default function Circles() {
  const q = useCached<CircleOut[]>('circles', () => ok(client.GET('/api/v2/circles')))
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  useNodeEvents((e) => {
    if (e.type === 'doc_changed' && e.doc.startsWith('circle.')) q.reload()
  })
  async function create(e: FormEvent) {
    e.preventDefault()
    if (!name.trim()) return setError('Give the circle a name.')
    setBusy(true)
    setError(null)
    try {
      await ok(client.POST('/api/v2/circles', { body: { name: name.trim() } }))
      setName('')
      q.reload()
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  const replace = (c: CircleOut) => q.setData((l) => l?.map((x) => (x.id === c.id ? c : x)))
  return (
    <section>
      <h1>Circles</h1>
      <form className="row" onSubmit={create}>
        <Input label="Circle name" value={name} onChange={(e) => setName(e.target.value)} error={error} />
        <Button type="submit" variant="primary" loading={busy}>
          Create circle
        </Button>
      </form>
      <PageState q={q} skeleton="table">
        {(list) =>
          list.length === 0 ? (
            <p className="muted">No circles yet.</p>
          ) : (
            <div className="cards">
              {list.map((c) => (
                <Card key={c.id} variant="outlined">
                  <h2 dir="auto">{c.name}</h2>
                  <p className="muted">
                    {c.visibility} · {c.members.length} members {c.mine ? '· yours' : `· owner ${short(c.owner)}`}
                  </p>
                  <ul className="list">
                    {c.members.map((m) => (
                      <li key={m.did} className="list-row">
                        <span title={m.did}>
                          {short(m.did)} <span className="tag">{m.role}</span>
                        </span>
                        {c.mine && m.role !== 'owner' && (
                          <Button
                            size="sm"
                            variant="ghost"
                            aria-label={`Remove ${m.did}`}
                            onClick={() =>
                              ok(client.DELETE('/api/v2/circles/{id}/members/{did}', { params: { path: { id: c.id, did: m.did } } })).then(replace, (e) => showToast(String(e.message ?? e)))
                            }
                          >
                            Remove
                          </Button>
                        )}
                      </li>
                    ))}
                  </ul>
                  {c.mine && (
                    <>
                      <DidForm label="Member DID" button="Add member" onSubmit={(did) => ok(client.POST('/api/v2/circles/{id}/members', { params: { path: { id: c.id } }, body: { did } })).then(replace)} />
                      <Button
                        variant="destructive"
                        size="sm"
                        onClick={() => {
                          if (confirm(`Delete the circle “${c.name}”?`))
                            ok(client.DELETE('/api/v2/circles/{id}', { params: { path: { id: c.id } } })).then(q.reload, (e) => showToast(String(e.message ?? e)))
                        }}
                      >
                        Delete circle
                      </Button>
                    </>
                  )}
                </Card>
              ))}
            </div>
          )
        }
      </PageState>
    </section>
  )
}
