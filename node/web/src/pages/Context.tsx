import { useState, type FormEvent } from 'react'
import { client, ok } from '../api/client'
import type { Context, ContextRequest, Status } from '../api/types'
import { useCached } from '../api/useCached'
import { Button, ErrorState, Input } from '../components'
import { NO_PROVIDER_TEXT, ProviderLine } from '../components/Provider'

/** Reads an SSE stream: yields {event, data}. */
async function* sse(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const reader = body.getReader()
  const dec = new TextDecoder()
  let buf = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buf += dec.decode(value, { stream: true })
    let i: number
    while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, i)
      buf = buf.slice(i).replace(/^\r?\n\r?\n/, '')
      let event = 'message'
      const data: string[] = []
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) event = line.slice(6).trim()
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
      }
      yield { event, data: data.join('\n') }
    }
  }
}

export default function ContextPage() {
  const [query, setQuery] = useState('')
  const [model, setModel] = useState('')
  const [budget, setBudget] = useState('4000')
  const [ctx, setCtx] = useState<Context | null>(null)
  const [answer, setAnswer] = useState<string | null>(null)
  const [busy, setBusy] = useState<'build' | 'send' | null>(null)
  const [error, setError] = useState<string | null>(null)
  const status = useCached<Status>('status', () => ok(client.GET('/api/admin/status')))
  // Known to have no provider (not merely "status not loaded yet").
  const noProvider = status.data !== undefined && !status.data.provider

  function body(send: boolean): ContextRequest {
    return { query, model: model || null, budget_tokens: Math.max(1, Number(budget) || 4000), send }
  }
  async function build(e: FormEvent) {
    e.preventDefault()
    if (!query.trim()) return setError('Ask a question first.')
    setBusy('build')
    setError(null)
    setAnswer(null)
    try {
      setCtx(await ok(client.POST('/api/v2/context', { body: body(false) })))
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(null)
    }
  }
  async function send() {
    if (noProvider) return setError(`“Send” needs a model provider: ${NO_PROVIDER_TEXT}.`)
    if (!query.trim()) return setError('Ask a question first.')
    setBusy('send')
    setError(null)
    setAnswer('')
    try {
      const r = client.POST('/api/v2/context', { body: body(true), parseAs: 'stream' })
      const stream = await ok(r)
      const res = (await r).response
      if (!stream) throw new Error('The node sent no answer.')
      if ((res.headers.get('content-type') ?? '').includes('application/json')) {
        setCtx((await new Response(stream).json()) as Context)
      } else {
        for await (const ev of sse(stream)) {
          if (ev.event === 'context') setCtx(JSON.parse(ev.data) as Context)
          else if (ev.event === 'delta') setAnswer((a) => (a ?? '') + ((JSON.parse(ev.data) as { text?: string }).text ?? ''))
          else if (ev.event === 'done') {
            const d = JSON.parse(ev.data) as { answer?: string }
            if (d.answer) setAnswer(d.answer)
          } else if (ev.event === 'error') setError(ev.data)
        }
      }
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(null)
    }
  }
  return (
    <section>
      <h1>Context</h1>
      <p className="muted">Build the prompt your node would send: memories, retrieved messages and recent turns, within a token budget.</p>
      <form onSubmit={build} className="context-form">
        <label className="field">
          <span className="field-label">Question</span>
          <textarea dir="auto" rows={3} value={query} onChange={(e) => setQuery(e.target.value)} />
        </label>
        <div className="row">
          <Input label="Model" placeholder="gpt-4o" value={model} onChange={(e) => setModel(e.target.value)} />
          <Input label="Budget (tokens)" type="number" min={1} max={1000000} value={budget} onChange={(e) => setBudget(e.target.value)} />
        </div>
        <div className="row">
          <Button type="submit" variant="primary" loading={busy === 'build'} disabled={!!busy}>
            Assemble
          </Button>
          <Button
            onClick={() => void send()}
            loading={busy === 'send'}
            disabled={!!busy || noProvider}
            aria-describedby="send-help"
          >
            Send
          </Button>
        </div>
        <p id="send-help" className="muted">
          {noProvider ? (
            <>“Send” is off: {NO_PROVIDER_TEXT}, then restart the node.</>
          ) : status.data?.provider ? (
            <>
              “Send” asks <ProviderLine p={status.data.provider} />; the answer streams in.
            </>
          ) : (
            <>“Send” needs a provider configured on the node; the answer streams in.</>
          )}
        </p>
      </form>
      {error && <ErrorState message={error} title="That did not work" />}
      {answer !== null && (
        <div className="card card-elevated" aria-live="polite">
          <h2>Answer</h2>
          <p dir="auto" className="prewrap">
            {answer || '…'}
          </p>
        </div>
      )}
      {ctx && (
        <>
          <h2>
            {ctx.total_tokens} of {ctx.budget_tokens} tokens <span className="muted">({ctx.tokenizer})</span>
          </h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Section</th>
                  <th scope="col">Tokens</th>
                  <th scope="col">Items</th>
                  <th scope="col">Dropped</th>
                  <th scope="col">Duplicates</th>
                </tr>
              </thead>
              <tbody>
                {ctx.sections.map((s) => (
                  <tr key={s.name}>
                    <td>{s.name}</td>
                    <td>{s.tokens}</td>
                    <td>{s.items}</td>
                    <td>{s.dropped}</td>
                    <td>{s.duplicates}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Prompt</h2>
          <pre className="prompt" dir="auto">
            {ctx.prompt}
          </pre>
        </>
      )}
    </section>
  )
}
