import { useRef, useState, type DragEvent, type FormEvent } from 'react'
import { Link } from 'react-router'
import { ApiError, client, ok } from '../api/client'
import type { ImportResult } from '../api/types'
import { uploadImport, type UploadProgress } from '../api/upload'
import { useNodeEvents } from '../api/events'
import { Button, ErrorState, Input } from '../components'

/** One skipped conversation. The spec leaves `skipped` items untyped, so read them defensively. */
function skippedOf(r: ImportResult): { key: number; label: string; error: string }[] {
  return r.skipped.map((s, i) => {
    const o = (s && typeof s === 'object' ? s : {}) as Record<string, unknown>
    const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '')
    const index = typeof o.index === 'number' ? o.index : i
    return { key: i, label: `#${index} ${str(o.title) || str(o.id)}`.trim(), error: str(o.error) || JSON.stringify(s) }
  })
}

export function Summary({ r }: { r: ImportResult }) {
  const skipped = skippedOf(r)
  return (
    <div className="card card-outlined" role="status">
      <h2>Import finished</h2>
      <ul>
        <li>Format: {r.format}</li>
        <li>Imported: {r.conversations} new conversations</li>
        <li>Updated: {r.updated}</li>
        <li>Already stored: {r.duplicates}</li>
        <li>Messages written: {r.messages}</li>
        <li>Skipped: {skipped.length}</li>
        <li>Time: {r.seconds.toFixed(1)} s</li>
      </ul>
      {skipped.length > 0 && (
        <details>
          <summary>Why some were skipped</summary>
          <ul>
            {skipped.map((s) => (
              <li key={s.key} dir="auto">
                {s.label}: {s.error}
              </li>
            ))}
          </ul>
        </details>
      )}
      <Link to="/">See your conversations</Link>
    </div>
  )
}

/** Says plainly what an import error means, with the node's own message. */
export function importErrorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 413) return `The file is too large for your node's upload limit. ${e.message}`
    if (e.status === 422) return `VIVIM did not recognize this file as an export it can read: ${e.message}`
    return e.message
  }
  return e instanceof Error ? e.message : String(e)
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

type Phase = { kind: 'upload'; name: string; p: UploadProgress } | { kind: 'import'; label: string }

export default function Import() {
  const [phase, setPhase] = useState<Phase | null>(null)
  const [progress, setProgress] = useState<{ n: number; last: string } | null>(null)
  const [result, setResult] = useState<ImportResult | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [url, setUrl] = useState('')
  const [over, setOver] = useState(false)
  const fileRef = useRef<HTMLInputElement>(null)
  const busy = phase !== null

  useNodeEvents((e) => {
    if (!busy) return
    if (e.type === 'conversation_imported') setProgress((p) => ({ n: (p?.n ?? 0) + 1, last: e.title }))
  })

  async function run(first: Phase, f: () => Promise<ImportResult>) {
    setPhase(first)
    setError(null)
    setResult(null)
    setProgress(null)
    try {
      setResult(await f())
    } catch (e) {
      setError(importErrorText(e))
    } finally {
      setPhase(null)
    }
  }
  function upload(file: File) {
    const name = file.name
    void run({ kind: 'upload', name, p: { loaded: 0, total: file.size } }, () =>
      uploadImport(
        file,
        { format: 'auto' },
        {
          onProgress: (p) => setPhase((ph) => (ph?.kind === 'upload' ? { ...ph, p } : ph)),
          onUploaded: () => setPhase({ kind: 'import', label: `Importing ${name}` }),
        },
      ),
    )
  }
  function onDrop(e: DragEvent) {
    e.preventDefault()
    setOver(false)
    const f = e.dataTransfer.files[0]
    if (f) upload(f)
  }
  function onUrl(e: FormEvent) {
    e.preventDefault()
    if (!url.trim()) return
    void run({ kind: 'import', label: 'Importing the share' }, () => ok(client.POST('/api/v1/import/source', { body: { url: url.trim() } })))
  }
  const pct = phase?.kind === 'upload' && phase.p.total > 0 ? Math.min(100, Math.round((phase.p.loaded / phase.p.total) * 100)) : 0

  return (
    <section>
      <h1>Import</h1>
      <div
        className={over ? 'dropzone over' : 'dropzone'}
        onDragOver={(e) => {
          e.preventDefault()
          setOver(true)
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <p>Drop an export here (ChatGPT, Claude, Gemini zip or json, ShareGPT, Markdown, a saved share page), or</p>
        <label htmlFor="import-file" className="btn btn-primary btn-md">
          Choose export file
        </label>
        <input
          id="import-file"
          ref={fileRef}
          className="sr-only"
          type="file"
          aria-label="Choose export file"
          accept=".zip,.json,.md,.markdown,.html,.htm,.txt"
          onChange={(e) => {
            const f = e.target.files?.[0]
            if (f) upload(f)
            e.target.value = ''
          }}
        />
      </div>
      <form onSubmit={onUrl} className="row">
        <Input label="Share URL" type="url" placeholder="https://chatgpt.com/share/…" value={url} onChange={(e) => setUrl(e.target.value)} />
        <Button type="submit" loading={phase?.kind === 'import' && phase.label === 'Importing the share'} disabled={busy}>
          Import URL
        </Button>
      </form>
      {url.trim().startsWith('vivim://share/') && (
        <p className="open-first">
          A VIVIM share link: its key can stay in this browser.{' '}
          <Link to={`/open#${encodeURIComponent(url.trim())}`}>Open in the browser first</Link>
        </p>
      )}
      {phase?.kind === 'upload' && (
        <div className="progress upload-progress">
          <p id="upload-label">
            Uploading <span dir="auto">{phase.name}</span>: {formatBytes(phase.p.loaded)} of {formatBytes(phase.p.total)} ({pct}%)
          </p>
          <div
            className="bar"
            role="progressbar"
            aria-labelledby="upload-label"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={pct}
            aria-valuetext={`${pct}%`}
          >
            <div className="bar-fill" style={{ width: `${pct}%` }} />
          </div>
        </div>
      )}
      {phase?.kind === 'import' && (
        <div className="progress" role="status" aria-live="polite">
          <span className="spinner" aria-hidden="true" /> {phase.label}…{' '}
          {progress ? (
            <span>
              {progress.n} conversations so far (last: <span dir="auto">{progress.last}</span>)
            </span>
          ) : (
            <span>your node is reading the export.</span>
          )}
        </div>
      )}
      {error && <ErrorState message={error} title="The import failed" />}
      {result && <Summary r={result} />}
    </section>
  )
}
