import { Link } from 'react-router'
import { client, ok } from '../api/client'
import type { ShareOut } from '../api/types'
import { useCached } from '../api/useCached'
import { Button, PageState, showToast } from '../components'
import { formatDate } from './Conversations'

export default function Shares() {
  const q = useCached<ShareOut[]>('shares', () => ok(client.GET('/api/v2/shares')))
  return (
    <section>
      <h1>Shares</h1>
      <p className="muted">What you shared, with whom, and its state.</p>
      <PageState q={q} skeleton="table">
        {(all) => {
          const list = all.filter((s) => s.mine).sort((a, b) => b.created_at_ms - a.created_at_ms)
          return list.length === 0 ? (
            <p>You have not shared anything yet. Open a conversation and choose “Share”.</p>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">What</th>
                    <th scope="col">Audience</th>
                    <th scope="col">State</th>
                    <th scope="col">Created</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((s) => (
                    <tr key={s.id}>
                      <td dir="auto">{s.content_type === 'conversation' ? <Link to={`/c/${s.content}`}>{s.title ?? s.content.slice(0, 12)}</Link> : s.title ?? s.content.slice(0, 12)}</td>
                      <td>{s.audience}</td>
                      <td>
                        {s.status} · {s.state} · {s.delivered}/{s.recipients.length} delivered
                      </td>
                      <td>{formatDate(s.created_at_ms)}</td>
                      <td className="row">
                        {s.link && (
                          <Button size="sm" onClick={() => navigator.clipboard?.writeText(s.link!).then(() => showToast('Link copied'), () => showToast(s.link!))}>
                            Copy link
                          </Button>
                        )}
                        {s.status !== 'revoked' && (
                          <Button
                            size="sm"
                            variant="destructive"
                            onClick={() =>
                              ok(client.POST('/api/v2/shares/{id}/revoke', { params: { path: { id: s.id } } })).then(
                                (r) => q.setData((l) => l?.map((x) => (x.id === r.id ? r : x))),
                                (e: Error) => showToast(e.message),
                              )
                            }
                          >
                            Revoke
                          </Button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }}
      </PageState>
    </section>
  )
}
