import type { ProviderStatus } from '../api/types'

export const NO_PROVIDER_TEXT = 'no provider configured — add [provider] to vivim.toml'

/** "openai · gpt-4o (https://…, API key set)" or the hint to configure one. */
export function ProviderLine({ p }: { p: ProviderStatus | null | undefined }) {
  if (!p) return <span>{NO_PROVIDER_TEXT}</span>
  return (
    <span>
      {p.kind} · {p.model}{' '}
      <span className="muted">
        ({p.url}, {p.has_api_key ? 'API key set' : 'no API key'})
      </span>
    </span>
  )
}

