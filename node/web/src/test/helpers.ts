import type { ConversationView } from '../api/types'
import { vi } from 'vitest'

/** `req` is the Request the client built (openapi-fetch passes one), to read its method and body. */
export type Route = (url: URL, init?: RequestInit, req?: Request) => Response | undefined | Promise<Response | undefined>

export function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

/** Stubs fetch; unmatched URLs answer 404. Returns the mock to inspect calls. */
export function mockFetch(route: Route) {
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url, 'http://localhost')
    const r = await route(url, init, input instanceof Request ? input : undefined)
    return r ?? json({ error: { code: 'not_found', message: 'no such route' } }, 404)
  })
  vi.stubGlobal('fetch', fn)
  return fn
}

export function conv(i: number, over: Partial<ConversationView> = {}): ConversationView {
  return {
    id: `c${i}`,
    title: `Conversation ${i}`,
    provider: i % 2 ? 'chatgpt' : 'claude',
    created_at: '2024-01-01T00:00:00Z',
    created_at_ms: 1704067200000,
    updated_at: '2024-01-01T00:00:00Z',
    updated_at_ms: 1704067200000 - i,
    message_count: 3,
    acu_count: 3,
    total_tokens: 10,
    owner: 'did:key:z6Mkme',
    version: 'v',
    ...over,
  }
}

