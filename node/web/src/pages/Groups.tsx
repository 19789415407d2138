import { useEffect, useId, useState, type FormEvent } from 'react'
import { client, ok } from '../api/client'
import type { GroupOut, NewGroup } from '../api/types'
import { useCached } from '../api/useCached'
import { useNodeEvents } from '../api/events'
import { Button, Card, Input, PageState, showToast } from '../components'
import { DidForm, short } from '../components/DidForm'
import type { OpenDoc } from '../yjsdoc'

type Kind = 'group' | 'team'
const KINDS = { group: ['GENERAL', 'STUDY', 'PROJECT', 'COMMUNITY'], team: ['WORK', 'PROJECT', 'PERSONAL'] }
const ACCESS = { group: ['PUBLIC', 'APPROVAL', 'PRIVATE'], team: ['OPEN', 'INVITE'] }

interface YMember {
  role: string
  added: number
}

/** Editing through Yjs: name, description and member roles, on the owner's document. */
function YjsEditor({ id, onClose }: { id: string; onClose: () => void }) {
  const [od, setOd] = useState<OpenDoc | null>(null)
  const [status, setStatus] = useState('connecting')
  const [, setTick] = useState(0)
  useEffect(() => {
    let d: OpenDoc | null = null
    let live = true
    void import('../yjsdoc').then(({ openDoc }) => {
      if (!live) return
      d = openDoc(id)
      const bump = () => setTick((t) => t + 1)
      d.doc.on('update', bump)
      d.provider.on('status', (e: { status: string }) => setStatus(e.status))
      d.provider.on('sync', (s: boolean) => s && setStatus('synced'))
      setOd(d)
    })
    return () => {
      live = false
      d?.destroy()
    }
  }, [id])
  if (!od) return <p className="muted">Opening the document…</p>
  const meta = od.doc.getMap('meta')
  const members = od.doc.getMap<YMember>('members')
  return (
    <div className="yjs-editor card card-glass">
      <p className="muted" role="status">
        Live document: {status === 'synced' || status === 'connected' ? 'in sync with your node' : 'offline — edits are kept here and sync when your node is back'}
      </p>
      <Input label="Name" value={String(meta.get('name') ?? '')} onChange={(e) => meta.set('name', e.target.value)} />
      <Input label="Description" value={String(meta.get('description') ?? '')} onChange={(e) => meta.set('description', e.target.value)} />
      <h4>Roles</h4>
      <ul className="list">
        {[...members.entries()].map(([did, m]) => (
          <li key={did} className="list-row">
            <span title={did}>{short(did)}</span>
            {m.role === 'owner' ? (
              <span className="tag">owner</span>
            ) : (
              <select aria-label={`Role of ${did}`} value={m.role} onChange={(e) => members.set(did, { ...m, role: e.target.value })}>
                <option value="member">member</option>
                <option value="admin">admin</option>
              </select>
            )}
          </li>
        ))}
      </ul>
      <Button size="sm" onClick={onClose}>
        Close editor
      </Button>
    </div>
  )
}

/** Groups and teams have the same operations under two literal paths (each typed by the spec). */
function groupApi(kind: Kind) {
  const g = kind === 'group'
  const at = (id: string) => ({ params: { path: { id } } })
  const atMember = (id: string, did: string) => ({ params: { path: { id, did } } })
  return {
    list: () => ok(g ? client.GET('/api/v3/groups') : client.GET('/api/v3/teams')),
    create: (body: NewGroup) => ok(g ? client.POST('/api/v3/groups', { body }) : client.POST('/api/v3/teams', { body })),
    join: (id: string) =>
      ok(g ? client.POST('/api/v3/groups/{id}/join', { ...at(id), body: { message: '' } }) : client.POST('/api/v3/teams/{id}/join', { ...at(id), body: { message: '' } })),
    leave: (id: string) => ok(g ? client.POST('/api/v3/groups/{id}/leave', at(id)) : client.POST('/api/v3/teams/{id}/leave', at(id))),
    addMember: (id: string, did: string) =>
      ok(g ? client.POST('/api/v3/groups/{id}/members', { ...at(id), body: { did } }) : client.POST('/api/v3/teams/{id}/members', { ...at(id), body: { did } })),
    removeMember: (id: string, did: string) =>
      ok(g ? client.DELETE('/api/v3/groups/{id}/members/{did}', atMember(id, did)) : client.DELETE('/api/v3/teams/{id}/members/{did}', atMember(id, did))),
    remove: (id: string) => ok(g ? client.DELETE('/api/v3/groups/{id}', at(id)) : client.DELETE('/api/v3/teams/{id}', at(id))),
  }
}

export default function Groups({ kind }: { kind: Kind }) {
  const gapi = groupApi(kind)
  const title = kind === 'group' ? 'Groups' : 'Teams'
  const label = kind === 'group' ? 'Group' : 'Team'
  const q = useCached<GroupOut[]>(kind === 'group' ? 'groups' : 'teams', () => gapi.list())
  const [name, setName] = useState('')
  const [desc, setDesc] = useState('')
  const [gkind, setGkind] = useState(KINDS[kind][0])
  const [access, setAccess] = useState(ACCESS[kind][0])
  const uid = useId()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [editing, setEditing] = useState<string | null>(null)
  useNodeEvents((e) => {
    if (e.type === 'doc_changed' && e.doc.startsWith(`${kind}.`)) q.reload()
  })
  useEffect(() => {
    setGkind(KINDS[kind][0])
    setAccess(ACCESS[kind][0])
  }, [kind])

  async function create(e: FormEvent) {
    e.preventDefault()
    if (!name.trim()) return setError(`Give the ${kind} a name.`)
    const body: NewGroup = { name: name.trim(), description: desc, kind: gkind }
    if (kind === 'group') body.visibility = access
    else body.access = access
    setBusy(true)
    setError(null)
    try {
      await gapi.create(body)
      setName('')
      setDesc('')
      q.reload()
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  const run = (p: Promise<unknown>) => p.then(q.reload, (e: Error) => showToast(e.message))
  return (
    <section>
      <h1>{title}</h1>
      <form className="create-form" onSubmit={create}>
        <Input label={`${label} name`} value={name} onChange={(e) => setName(e.target.value)} error={error} />
        <Input label="Description" value={desc} onChange={(e) => setDesc(e.target.value)} />
        <span className="inline-field">
          <label htmlFor={`${uid}-kind`}>Kind</label>
          <select id={`${uid}-kind`} value={gkind} onChange={(e) => setGkind(e.target.value)}>
            {KINDS[kind].map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </span>
        <span className="inline-field">
          <label htmlFor={`${uid}-access`}>{kind === 'group' ? 'Visibility' : 'Access'}</label>
          <select id={`${uid}-access`} value={access} onChange={(e) => setAccess(e.target.value)}>
            {ACCESS[kind].map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </span>
        <Button type="submit" variant="primary" loading={busy}>
          Create {kind}
        </Button>
      </form>
      <DidForm
        label={`${label} id to join`}
        button="Ask to join"
        onSubmit={async (id) => {
          await gapi.join(id)
          q.reload()
        }}
      />
      <PageState q={q} skeleton="table">
        {(list) =>
          list.length === 0 ? (
            <p className="muted">No {title.toLowerCase()} yet.</p>
          ) : (
            <div className="cards">
              {list.map((g) => {
                const me = g.me as { status?: string; role?: string }
                const owner = me.role === 'owner'
                const admin = owner || me.role === 'admin'
                return (
                  <Card key={g.id} variant="outlined">
                    <h2 dir="auto">{g.name}</h2>
                    {g.description && <p dir="auto">{g.description}</p>}
                    <p className="muted">
                      {g.kind} · {g.access} · {g.members.length} members · you: {me.status}
                      {me.role ? ` (${me.role})` : ''}
                    </p>
                    <p className="muted break">Id: {g.id}</p>
                    <ul className="list">
                      {g.members.map((m) => (
                        <li key={m.did} className="list-row">
                          <span title={m.did}>
                            {short(m.did)} <span className="tag">{m.role}</span>
                          </span>
                          {admin && m.role !== 'owner' && (
                            <Button size="sm" variant="ghost" onClick={() => run(gapi.removeMember(g.id, m.did))}>
                              Remove
                            </Button>
                          )}
                        </li>
                      ))}
                    </ul>
                    {g.requests.length > 0 && (
                      <>
                        <h3>Join requests</h3>
                        <ul className="list">
                          {g.requests.map((did) => (
                            <li key={did} className="list-row">
                              <span title={did}>{short(did)}</span>
                              {admin && (
                                <Button size="sm" variant="primary" onClick={() => run(gapi.addMember(g.id, did))}>
                                  Approve
                                </Button>
                              )}
                            </li>
                          ))}
                        </ul>
                      </>
                    )}
                    <div className="row">
                      {admin && <DidForm label="Invite by DID" button="Invite" onSubmit={(did) => gapi.addMember(g.id, did).then(q.reload)} />}
                      {owner && (
                        <Button size="sm" onClick={() => setEditing(editing === g.id ? null : g.id)}>
                          {editing === g.id ? 'Stop editing' : 'Edit'}
                        </Button>
                      )}
                      {me.status === 'none' && (
                        <Button size="sm" onClick={() => run(gapi.join(g.id))}>
                          Join
                        </Button>
                      )}
                      {me.status !== 'none' && !owner && (
                        <Button size="sm" onClick={() => run(gapi.leave(g.id))}>
                          Leave
                        </Button>
                      )}
                      {owner && (
                        <Button
                          size="sm"
                          variant="destructive"
                          onClick={() => {
                            if (confirm(`Delete “${g.name}”?`)) run(gapi.remove(g.id))
                          }}
                        >
                          Delete
                        </Button>
                      )}
                    </div>
                    {editing === g.id && <YjsEditor id={g.id} onClose={() => setEditing(null)} />}
                  </Card>
                )
              })}
            </div>
          )
        }
      </PageState>
    </section>
  )
}
