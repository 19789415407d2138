import { useState, type FormEvent } from 'react'
import { authReason, setAuthReason, setToken } from '../auth'
import { ApiError, client, ok, withTimeout } from '../api/client'
import { Button, Input } from '../components'

export function Connect() {
  const [value, setValue] = useState('')
  const [error, setError] = useState<string | null>(authReason())
  const [busy, setBusy] = useState(false)

  async function submit(e: FormEvent) {
    e.preventDefault()
    const token = value.trim()
    if (!token) {
      setError('Paste the token that `vivim token` prints.')
      return
    }
    setBusy(true)
    setError(null)
    try {
      await ok(client.GET('/api/v1/identity', { headers: { Authorization: `Bearer ${token}` }, ...withTimeout(8000) }))
      setAuthReason(null)
      setToken(token)
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('The node refused this token. Check it and try again.')
      else if (err instanceof ApiError && err.kind === 'network') setError('Your node did not answer. Is it running (`vivim up`)?')
      else setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main id="main" className="connect">
      <div className="connect-box card card-elevated">
        <h1>Connect to your node</h1>
        <p>
          Run <code>vivim ui</code> on the machine where your node runs. It prints a link that logs you in.
        </p>
        <p>Or paste the gateway token (from <code>vivim token</code>):</p>
        <form onSubmit={submit} noValidate>
          <Input
            label="Gateway token"
            name="token"
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            error={error}
          />
          <Button type="submit" variant="primary" loading={busy}>
            Connect
          </Button>
        </form>
      </div>
    </main>
  )
}
