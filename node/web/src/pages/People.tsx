import { client, ok } from '../api/client'
import type { FollowsOut, FriendOut } from '../api/types'
import { useCached } from '../api/useCached'
import { Button, PageState, showToast } from '../components'
import { DidForm, short } from '../components/DidForm'

async function act(f: () => Promise<unknown>, reload: () => void) {
  try {
    await f()
  } catch (e) {
    showToast(e instanceof Error ? e.message : String(e))
  }
  reload()
}

export default function People() {
  const friends = useCached<FriendOut[]>('friends', () => ok(client.GET('/api/v3/friends')))
  const follows = useCached<FollowsOut>('follows', () => ok(client.GET('/api/v3/follows')))
  const friendAction = (did: string, action: string) => act(() => ok(client.POST('/api/v3/friends/{did}/{action}', { params: { path: { did, action } } })), friends.reload)
  return (
    <section>
      <h1>People</h1>
      <h2>Friends</h2>
      <DidForm label="Friend's DID" button="Send friend request" onSubmit={(did) => ok(client.POST('/api/v3/friends/{did}/{action}', { params: { path: { did, action: 'request' } } })).then(friends.reload)} />
      <PageState q={friends} skeleton="table">
        {(list) =>
          list.length === 0 ? (
            <p className="muted">No friends or requests yet.</p>
          ) : (
            <ul className="list">
              {list.map((f) => (
                <li key={f.did} className="list-row">
                  <span title={f.did}>
                    <strong dir="auto">{f.name ?? short(f.did)}</strong> <span className="tag">{f.status}</span> <span className="muted">{f.direction}</span>
                  </span>
                  <span className="row">
                    {f.status === 'PENDING' && f.direction === 'incoming' && (
                      <>
                        <Button size="sm" variant="primary" onClick={() => friendAction(f.did, 'accept')}>
                          Accept
                        </Button>
                        <Button size="sm" onClick={() => friendAction(f.did, 'reject')}>
                          Decline
                        </Button>
                      </>
                    )}
                    {f.status === 'PENDING' && f.direction === 'outgoing' && (
                      <Button size="sm" onClick={() => friendAction(f.did, 'cancel')}>
                        Cancel request
                      </Button>
                    )}
                    {f.status === 'BLOCKED' ? (
                      <Button size="sm" variant="ghost" onClick={() => friendAction(f.did, 'unblock')}>
                        Unblock
                      </Button>
                    ) : (
                      <Button size="sm" variant="ghost" onClick={() => friendAction(f.did, 'block')}>
                        Block
                      </Button>
                    )}
                  </span>
                </li>
              ))}
            </ul>
          )
        }
      </PageState>
      <h2>Follows</h2>
      <DidForm label="DID to follow" button="Follow" onSubmit={(did) => ok(client.POST('/api/v3/follows', { body: { did } })).then(follows.reload)} />
      <PageState q={follows} skeleton="table">
        {(f) => (
          <div className="two-col">
            <div>
              <h3>Following ({f.following.length})</h3>
              <ul className="list">
                {f.following.map((p) => (
                  <li key={p.did} className="list-row">
                    <span title={p.did}>
                      <strong dir="auto">{p.name ?? short(p.did)}</strong> <span className="tag">{p.status}</span>
                    </span>
                    <Button size="sm" variant="ghost" onClick={() => act(() => ok(client.DELETE('/api/v3/follows/{did}', { params: { path: { did: p.did } } })), follows.reload)}>
                      Unfollow
                    </Button>
                  </li>
                ))}
              </ul>
            </div>
            <div>
              <h3>Followers ({f.followers.length})</h3>
              <ul className="list">
                {f.followers.map((p) => (
                  <li key={p.did} className="list-row">
                    <span title={p.did}>
                      <strong dir="auto">{p.name ?? short(p.did)}</strong> <span className="tag">{p.status}</span>
                    </span>
                    {p.status === 'PENDING' && (
                      <Button size="sm" variant="primary" onClick={() => act(() => ok(client.POST('/api/v3/follows/{did}/approve', { params: { path: { did: p.did } } })), follows.reload)}>
                        Approve
                      </Button>
                    )}
                  </li>
                ))}
              </ul>
            </div>
          </div>
        )}
      </PageState>
    </section>
  )
}
