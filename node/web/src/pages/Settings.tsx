import { useEffect, useRef } from 'react'
// @ts-expect-error the ESM build exports a named `qrcode`; its .d.ts only declares `export =`
import { qrcode as qrcodeNamed } from 'qrcode-generator'
import type qrcodeType from 'qrcode-generator'
const qrcode = qrcodeNamed as typeof qrcodeType
import { client, ok } from '../api/client'
import type { IdentityView, Status } from '../api/types'
import { useCached } from '../api/useCached'
import { setToken } from '../auth'
import { clearAll } from '../db'
import { Button, PageState } from '../components'
import { ProviderLine } from '../components/Provider'

function Qr({ text }: { text: string }) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const qr = qrcode(0, 'M')
    qr.addData(text)
    qr.make()
    if (ref.current) ref.current.innerHTML = qr.createSvgTag({ cellSize: 4, margin: 2, scalable: true })
  }, [text])
  return <div ref={ref} className="qr" role="img" aria-label={`QR code of ${text}`} />
}

export default function Settings() {
  const id = useCached<IdentityView>('identity', () => ok(client.GET('/api/v1/identity')))
  const status = useCached<Status>('status', () => ok(client.GET('/api/admin/status')))
  async function disconnect() {
    await clearAll().catch(() => {})
    setToken(null)
  }
  return (
    <section>
      <h1>Settings</h1>
      <h2>Identity</h2>
      <PageState q={id} skeleton="table">
        {(i) => (
          <div className="identity">
            <dl>
              <dt>DID</dt>
              <dd className="break">
                <code>{i.did}</code>
              </dd>
              <dt>PeerId</dt>
              <dd className="break">
                <code>{i.peer_id}</code>
              </dd>
              <dt>Endpoint id</dt>
              <dd className="break">
                <code>{i.endpoint_id}</code>
              </dd>
              <dt>X25519 key</dt>
              <dd className="break">
                <code>{i.x25519}</code>
              </dd>
            </dl>
            <Qr text={i.did} />
          </div>
        )}
      </PageState>
      <h2>Node</h2>
      <PageState q={status} skeleton="table">
        {(s) => (
          <dl>
            <dt>Version</dt>
            <dd>{s.version}</dd>
            <dt>Conversations</dt>
            <dd>{s.conversations}</dd>
            <dt>Messages (ACUs)</dt>
            <dd>{s.acus}</dd>
            <dt>Search index</dt>
            <dd>{s.index_docs} documents</dd>
            <dt>Embedder</dt>
            <dd>
              {s.semantic
                ? `${s.semantic.embedder} (${s.semantic.dims} dims, ${s.semantic.vectors} vectors, ${s.semantic.conversations_pending} pending)`
                : 'not started yet'}
            </dd>
            <dt>Model provider</dt>
            <dd>
              <ProviderLine p={s.provider} />
            </dd>
            <dt>Network</dt>
            <dd>{s.network ? 'peer-to-peer network on' : 'off (started with --no-network): sharing, opening links and fetching from peers are unavailable'}</dd>
            <dt>Other allowed origins (CORS)</dt>
            <dd className="break">{s.cors_origins.length ? s.cors_origins.join(', ') : 'none'}</dd>
            <dt>Data directory</dt>
            <dd className="break">{s.data_dir}</dd>
            <dt>Up for</dt>
            <dd>{Math.round(s.uptime_seconds / 60)} minutes</dd>
          </dl>
        )}
      </PageState>
      <h2>Gateway</h2>
      <p>
        This app talks to <code>{location.origin}</code>.
      </p>
      <p className="muted">The model provider used by “Send” on the Context page is set in the node's configuration (the [provider] section of vivim.toml).</p>
      <h2>This browser</h2>
      <p>Disconnecting forgets the token and everything this browser saved.</p>
      <Button variant="destructive" onClick={() => void disconnect()}>
        Disconnect
      </Button>
    </section>
  )
}
