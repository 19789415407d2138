import { useState, type FormEvent } from 'react'
import { Link } from 'react-router'
import { ApiError } from '../../api/client'
import { checkIntegrity, downloadBackup, rebuildIndex, saveBlob, type IntegrityReport, type RebuildResult, type RebuildWhat } from '../../api/admin'
import { Button, Card, ErrorState, Input } from '../../components'
import { AdminNav } from './AdminNav'
import { formatBytes, formatNumber } from './format'

export const MIN_PASSPHRASE = 8

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, 'generic', errText(e))
}

function ms(n: number) {
  return n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`
}

export function Report({ r }: { r: IntegrityReport }) {
  const indexOk = r.index.ok
  const count = typeof r.problem_count === 'number' ? Math.max(r.problem_count, r.problems.length) : r.problems.length
  return (
    <div className="check-report">
      <p className={r.ok && indexOk ? 'check-ok' : 'check-bad'} role="status">
        <strong>{r.ok && indexOk ? 'No problems found.' : `${formatNumber(count, 0)} ${count === 1 ? 'problem' : 'problems'} found${indexOk ? '' : ', and the search index is out of step'}.`}</strong>
      </p>
      <dl className="admin-dl">
        <dt>Conversations</dt>
        <dd>{formatNumber(r.conversations, 0)}</dd>
        <dt>Records checked</dt>
        <dd>
          {formatNumber(r.records_checked, 0)} ({formatBytes(r.bytes_checked)})
        </dd>
        <dt>Documents checked</dt>
        <dd>{formatNumber(r.documents_checked, 0)}</dd>
        <dt>Memories checked</dt>
        <dd>{formatNumber(r.memories_checked, 0)}</dd>
        <dt>Search index</dt>
        <dd>
          {formatNumber(r.index.docs, 0)} documents, {formatNumber(r.index.expected, 0)} expected · {indexOk ? 'ok' : 'rebuild the full-text index'}
        </dd>
        <dt>Took</dt>
        <dd>{ms(r.took_ms)}</dd>
      </dl>
      {count > r.problems.length && <p className="muted">The first {formatNumber(r.problems.length, 0)} are listed.</p>}
      {r.problems.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Problems (scrollable)">
          <table className="admin-table problems">
            <caption className="sr-only">Problems</caption>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Conversation</th>
                <th scope="col">Record</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {r.problems.map((p, i) => (
                <tr key={i}>
                  <td>
                    <span className="tag">{p.kind}</span>
                  </td>
                  <td className="break">
                    {p.conversation ? (
                      <Link to={`/c/${encodeURIComponent(p.conversation)}`}>
                        <code>{p.conversation}</code>
                      </Link>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td className="break">{p.record ? <code>{p.record}</code> : <span className="muted">—</span>}</td>
                  <td dir="auto">{p.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}

function Check() {
  const [busy, setBusy] = useState(false)
  const [report, setReport] = useState<IntegrityReport | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  async function run() {
    setBusy(true)
    setError(null)
    try {
      setReport(await checkIntegrity())
    } catch (e) {
      setError(asApiError(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Card variant="outlined" className="admin-card">
      <h2>Integrity</h2>
      <p className="muted">Reads every stored record, document and memory and checks them, and compares the search index with what it should hold. It changes nothing.</p>
      <Button variant="primary" loading={busy} onClick={() => void run()}>
        Check integrity
      </Button>
      {busy && <p className="muted">Checking… this reads everything once and can take a while on a large node.</p>}
      {error && <ErrorState layout="banner" kind={error.kind} message={error.message} onRetry={() => void run()} />}
      {report && <Report r={report} />}
    </Card>
  )
}

const REBUILD: Record<RebuildWhat, { button: string; confirm: string; done: (r: RebuildResult) => string }> = {
  text: {
    button: 'Rebuild full-text index',
    confirm: 'This builds the full-text index again from your conversations. Search is incomplete until it finishes.',
    done: (r) => `Full-text index rebuilt: ${formatNumber(r.docs, 0)} documents in ${ms(r.took_ms)}.`,
  },
  vectors: {
    button: 'Rebuild vector index',
    confirm: 'This builds the vector index again from your conversations. Semantic search is incomplete until it finishes.',
    done: (r) => `Vector index rebuilt: ${formatNumber(r.docs, 0)} vectors in ${ms(r.took_ms)}.`,
  },
}

function Rebuild({ what }: { what: RebuildWhat }) {
  const t = REBUILD[what]
  const [confirming, setConfirming] = useState(false)
  const [busy, setBusy] = useState(false)
  const [result, setResult] = useState<RebuildResult | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  async function run() {
    setConfirming(false)
    setBusy(true)
    setError(null)
    setResult(null)
    try {
      setResult(await rebuildIndex(what))
    } catch (e) {
      setError(asApiError(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <div className="rebuild">
      {confirming ? (
        <div className="confirm" role="group" aria-label={`Confirm: ${t.button}`}>
          <p>{t.confirm}</p>
          <div className="row">
            <Button variant="destructive" onClick={() => void run()}>
              Rebuild now
            </Button>
            <Button variant="ghost" onClick={() => setConfirming(false)}>
              Cancel
            </Button>
          </div>
        </div>
      ) : (
        <Button loading={busy} onClick={() => setConfirming(true)}>
          {t.button}
        </Button>
      )}
      {busy && <p className="muted">Rebuilding…</p>}
      {result && (
        <p role="status" className="check-ok">
          {t.done(result)}
        </p>
      )}
      {error && <ErrorState layout="banner" kind={error.kind} message={error.message} />}
    </div>
  )
}

function Backup() {
  const [keys, setKeys] = useState(false)
  const [pass, setPass] = useState('')
  const [pass2, setPass2] = useState('')
  const [passErr, setPassErr] = useState<string | null>(null)
  const [confirmErr, setConfirmErr] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [done, setDone] = useState<string | null>(null)
  const [error, setError] = useState<ApiError | null>(null)

  async function submit(e: FormEvent) {
    e.preventDefault()
    setDone(null)
    setError(null)
    let bad = false
    if (keys) {
      if (pass.length < MIN_PASSPHRASE) {
        setPassErr(`Use at least ${MIN_PASSPHRASE} characters.`)
        bad = true
      } else setPassErr(null)
      if (pass2 !== pass) {
        setConfirmErr('The two passphrases differ.')
        bad = true
      } else setConfirmErr(null)
    }
    if (bad) return
    setBusy(true)
    try {
      const f = await downloadBackup(keys ? { keys: true, passphrase: pass } : { keys: false })
      saveBlob(f.blob, f.filename)
      setDone(`Saved ${f.filename} (${formatBytes(f.blob.size)}).`)
      setPass('')
      setPass2('')
    } catch (err) {
      setError(asApiError(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <Card variant="outlined" className="admin-card">
      <h2>Back up</h2>
      <p className="muted">A zip of your node's data, downloaded by this browser.</p>
      <form onSubmit={submit} className="backup-form" noValidate>
        <label className="check-field">
          <input
            type="checkbox"
            checked={keys}
            onChange={(e) => {
              setKeys(e.target.checked)
              setPassErr(null)
              setConfirmErr(null)
            }}
          />{' '}
          Include keys (your identity's private keys, encrypted with a passphrase)
        </label>
        {keys ? (
          <div className="backup-pass">
            <Input
              label="Passphrase"
              type="password"
              autoComplete="new-password"
              value={pass}
              onChange={(e) => setPass(e.target.value)}
              error={passErr}
              helperText={`At least ${MIN_PASSPHRASE} characters. Without it the keys cannot be restored.`}
            />
            <Input label="Confirm passphrase" type="password" autoComplete="new-password" value={pass2} onChange={(e) => setPass2(e.target.value)} error={confirmErr} />
          </div>
        ) : (
          <p className="muted">Without keys the backup holds your data but not your identity's private keys.</p>
        )}
        <Button type="submit" variant="primary" loading={busy}>
          Download backup
        </Button>
      </form>
      {done && (
        <p role="status" className="check-ok">
          {done}
        </p>
      )}
      {error && <ErrorState layout="banner" kind={error.kind} message={error.message} />}
    </Card>
  )
}

export default function AdminData() {
  return (
    <section className="admin">
      <AdminNav />
      <h1>Data care</h1>
      <div className="admin-stack">
        <Check />
        <Card variant="outlined" className="admin-card">
          <h2>Indexes</h2>
          <p className="muted">The search indexes are built from your conversations; rebuilding them loses nothing.</p>
          <div className="admin-stack">
            <Rebuild what="text" />
            <Rebuild what="vectors" />
          </div>
        </Card>
        <Backup />
        <Card variant="outlined" className="admin-card">
          <h2>Restore and compact</h2>
          <p>
            Restore a backup from the command line, into a data directory the node is not running on:
          </p>
          <pre className="prompt">vivim restore &lt;file&gt; --data-dir &lt;dir&gt; [--passphrase-env VAR]</pre>
          <p className="muted">With keys in the backup, put the passphrase in an environment variable and name it with --passphrase-env.</p>
          <p>Compaction also runs from the command line, with the node stopped:</p>
          <pre className="prompt">vivim compact</pre>
          <p className="muted">
            Blobs no conversation or share refers to any more (after a delete or a revoke) are collected by the node itself, once a minute.
          </p>
        </Card>
      </div>
    </section>
  )
}
