import { useState, type FormEvent } from 'react'
import { Button } from './Button'
import { Input } from './Input'

/** An input for a DID plus a submit button; shows the error the action throws. */
export function DidForm({ label, button, onSubmit, extra }: { label: string; button: string; onSubmit: (did: string) => Promise<unknown>; extra?: React.ReactNode }) {
  const [did, setDid] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  async function submit(e: FormEvent) {
    e.preventDefault()
    const v = did.trim()
    if (!v.startsWith('did:')) {
      setError('A DID starts with did:key:')
      return
    }
    setBusy(true)
    setError(null)
    try {
      await onSubmit(v)
      setDid('')
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="row did-form" onSubmit={submit}>
      <Input label={label} value={did} onChange={(e) => setDid(e.target.value)} error={error} placeholder="did:key:z6Mk…" />
      {extra}
      <Button type="submit" loading={busy}>
        {button}
      </Button>
    </form>
  )
}

export function short(did: string) {
  return did.length > 28 ? `${did.slice(0, 16)}…${did.slice(-6)}` : did
}
