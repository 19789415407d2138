import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react'
import { Link, useLocation, useNavigate } from 'react-router'
import { ApiError, client, ok } from '../api/client'
import type { MessageView, Opened } from '../api/types'
import { Button, ErrorState, Input, showToast } from '../components'
import { b64ToBytes, loadWasm, type AcuView, type OpenedView, type VivimWasm } from '../wasm'
import { buildPath, isBlankMessage, MessageList, type Sig } from './Reader'

/** A message opened from a package, in the shape the reader's list shows. */
function toMessage(a: AcuView): MessageView {
  const ms = Number.isFinite(a.createdAtMs) ? a.createdAtMs : 0
  let created = ''
  try {
    created = new Date(ms).toISOString()
  } catch {
    /* out of Date's range */
  }
  return {
    id: a.id,
    conversation: a.conversation,
    parent: a.parent,
    author: a.author,
    role: a.role,
    kind: a.kind,
    text: a.text,
    sealed: false,
    meta: {},
    created_at: created,
    created_at_ms: ms,
  }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

type Failure = { title: string; message: string; kind: 'network' | 'generic' }

/** An opened package: what the reader's list needs, and every message's (verified) signer. */
function OpenedConversation({ view, source, link }: { view: OpenedView; source: string; link: string }) {
  const [choice, setChoice] = useState<Record<string, string>>({})
  const [saving, setSaving] = useState(false)
  const [saved, setSaved] = useState<Opened | null>(null)
  const [saveError, setSaveError] = useState<string | null>(null)
  const c = view.conversation
  const messages = useMemo(() => view.messages.map(toMessage), [view])
  // openShare verified every record: each message's badge names the DID whose signature it carries.
  const sigs = useMemo(() => new Map<string, Sig>(view.messages.map((a) => [a.id, { ok: true, author: a.author }])), [view])
  const badge = useCallback((m: MessageView) => sigs.get(m.id), [sigs])
  const path = useMemo(() => buildPath(messages, c.head, choice), [messages, c.head, choice])
  const rows = useMemo(() => path.filter((p) => p.siblings.length > 1 || !isBlankMessage(p.msg)), [path])
  const choose = useCallback((key: string, id: string) => setChoice((ch) => ({ ...ch, [key]: id })), [])

  return (
    <section className="opened" aria-labelledby="opened-title">
      <h2 id="opened-title" dir="auto">
        {c.title || 'Untitled'}
      </h2>
      <p className="sig-note sig-note-ok" role="note">
        <span aria-hidden="true">✓ </span>Decrypted in this browser; the key in the link was not sent to your node. Every message&apos;s signature
        verified.
      </p>
      <dl className="opened-facts">
        <dt>Owner</dt>
        <dd>
          <code className="break" title={c.owner}>
            {c.owner}
          </code>
        </dd>
        <dt>Provider</dt>
        <dd>
          <span className="tag">{c.provider}</span>
        </dd>
        <dt>Messages</dt>
        <dd>
          {c.messageCount} {c.messageCount === 1 ? 'message' : 'messages'}{' '}
          <span className="muted">
            ({view.messages.length} signed {view.messages.length === 1 ? 'record' : 'records'}, all verified)
          </span>
        </dd>
        <dt>Served by</dt>
        <dd>{source === 'local' ? 'your node (it holds the package)' : <code className="break">{source}</code>}</dd>
      </dl>
      <div className="row actions">
        <SaveButton link={link} saving={saving} setSaving={setSaving} onSaved={setSaved} onError={setSaveError} />
      </div>
      {saveError && <ErrorState layout="banner" title="Not saved" message={saveError} />}
      {saved && <SavedNote saved={saved} />}
      <MessageList rows={rows} onChoose={choose} badge={badge} />
    </section>
  )
}

/** POST /api/v2/open: the node opens the link itself (the key goes to the user's own node) and keeps the conversation. */
function SaveButton({
  link,
  saving,
  setSaving,
  onSaved,
  onError,
}: {
  link: string
  saving: boolean
  setSaving: (b: boolean) => void
  onSaved: (o: Opened) => void
  onError: (m: string | null) => void
}) {
  async function save() {
    setSaving(true)
    onError(null)
    try {
      const r = await ok(client.POST('/api/v2/open', { body: { link } }))
      onSaved(r)
      showToast(`Saved “${r.title || 'Untitled'}” to your node`)
    } catch (e) {
      onError(message(e))
    } finally {
      setSaving(false)
    }
  }
  return (
    <Button onClick={() => void save()} loading={saving} disabled={!link.trim()}>
      Save to my node
    </Button>
  )
}

function SavedNote({ saved }: { saved: Opened }) {
  return (
    <p className="saved-note" role="status">
      Saved to your node ({saved.acus} messages). <Link to={`/c/${saved.conversation}`}>Open “{saved.title || 'Untitled'}” in your conversations</Link>
    </p>
  )
}

/**
 * Opens a `vivim://share/…` link in the browser: the sealed package comes from the node (its
 * own store, or fetched from the link's `from`), the key stays here. The link arrives in the
 * address's fragment (`/open#<encoded link>`, never sent to a server; removed from the address
 * once read) or is pasted.
 */
export default function OpenLinkPage() {
  const loc = useLocation()
  const nav = useNavigate()
  const [wasm, setWasm] = useState<VivimWasm | null | undefined>(undefined)
  const [link, setLink] = useState('')
  const [pending, setPending] = useState<string | null>(null)
  const [phase, setPhase] = useState<'fetching' | 'opening' | null>(null)
  const [inputError, setInputError] = useState<string | null>(null)
  const [failure, setFailure] = useState<Failure | null>(null)
  const [opened, setOpened] = useState<{ view: OpenedView; source: string; link: string } | null>(null)
  const [saving, setSaving] = useState(false)
  const [saved, setSaved] = useState<Opened | null>(null)
  const [saveError, setSaveError] = useState<string | null>(null)
  const run = useRef(0)

  useEffect(() => {
    let live = true
    void loadWasm().then((w) => live && setWasm(w))
    return () => {
      live = false
    }
  }, [])

  // The link in the fragment: read once, then taken out of the address (and its history entry).
  useEffect(() => {
    if (loc.hash.length < 2) return
    let l = loc.hash.slice(1)
    try {
      l = decodeURIComponent(l)
    } catch {
      /* not encoded: taken as it is */
    }
    nav({ pathname: loc.pathname, search: loc.search }, { replace: true, state: loc.state })
    setLink(l)
    setPending(l)
  }, [loc.hash, loc.pathname, loc.search, loc.state, nav])

  const open = useCallback(async (w: VivimWasm, raw: string) => {
    const l = raw.trim()
    const mine = ++run.current
    setInputError(null)
    setFailure(null)
    setOpened(null)
    setSaved(null)
    setSaveError(null)
    let parts
    try {
      parts = w.parseShareLink(l)
    } catch (e) {
      setInputError(`Not a share link: ${message(e)}`)
      return
    }
    setPhase('fetching')
    try {
      let pkg
      try {
        pkg = await ok(client.GET('/api/v2/sealed/{payload}', { params: { path: { payload: parts.payload }, query: { from: parts.from } } }))
      } catch (e) {
        if (mine !== run.current) return
        const network = e instanceof ApiError && e.kind === 'network'
        setFailure({ title: 'Could not fetch the sealed package', message: message(e), kind: network ? 'network' : 'generic' })
        return
      }
      if (mine !== run.current) return
      setPhase('opening')
      // Let "Opening…" paint before the (synchronous) decryption and checks.
      await new Promise((r) => setTimeout(r, 0))
      if (mine !== run.current) return
      try {
        const view = w.openShare(l, pkg.blobs.map(b64ToBytes))
        setOpened({ view, source: pkg.source, link: l })
      } catch (e) {
        setFailure({ title: 'The package did not open in this browser', message: message(e), kind: 'generic' })
      }
    } finally {
      if (mine === run.current) setPhase(null)
    }
  }, [])

  // A link waiting for the verifier (from the fragment, or submitted before it loaded).
  useEffect(() => {
    if (pending === null || wasm === undefined) return
    setPending(null)
    if (wasm) void open(wasm, pending)
  }, [pending, wasm, open])

  function onSubmit(e: FormEvent) {
    e.preventDefault()
    if (!link.trim()) {
      setInputError('Paste a vivim://share/… link.')
      return
    }
    if (wasm) void open(wasm, link)
    else if (wasm === undefined) setPending(link)
  }

  return (
    <section className="open-link">
      <h1>Open a share link</h1>
      <p className="muted">
        A <code>vivim://share/…</code> link carries the key of what it shares. Opened here, the package is fetched still sealed and
        decrypted in this browser, with every signature checked; the key never goes to your node.
      </p>
      {wasm === null && (
        <div className="sig-note" role="note">
          <p>
            This browser cannot open links itself: this node was built without the wasm verifier (bindings/wasm/build.sh).
          </p>
          <p>
            “Save to my node” sends the link, with its key, to your own node, which decrypts, verifies and keeps the conversation.
          </p>
        </div>
      )}
      <form className="open-form" onSubmit={onSubmit}>
        <Input
          label="Share link"
          placeholder="vivim://share/…"
          value={link}
          autoComplete="off"
          spellCheck={false}
          error={inputError}
          onChange={(e) => {
            setLink(e.target.value)
            setInputError(null)
          }}
        />
        <div className="row">
          {wasm !== null && (
            <Button type="submit" variant="primary" loading={phase !== null || (wasm === undefined && pending !== null)}>
              Open in this browser
            </Button>
          )}
          {wasm === null && <SaveButton link={link} saving={saving} setSaving={setSaving} onSaved={setSaved} onError={setSaveError} />}
        </div>
      </form>
      {wasm === null && saveError && <ErrorState layout="banner" title="Not saved" message={saveError} />}
      {wasm === null && saved && <SavedNote saved={saved} />}
      {phase && (
        <div className="progress" role="status" aria-live="polite">
          <span className="spinner" aria-hidden="true" />{' '}
          {phase === 'fetching' ? 'Fetching the sealed package…' : 'Decrypting and checking it in this browser…'}
        </div>
      )}
      {failure && <ErrorState kind={failure.kind} title={failure.title} message={failure.message} />}
      {opened && <OpenedConversation key={opened.link} view={opened.view} source={opened.source} link={opened.link} />}
    </section>
  )
}
