// The gateway client: openapi-fetch over the generated `paths` (npm run gen), so every call's path,
// path and query parameters, body and response are typed from openapi.json.
//
//   const page = await ok(client.GET('/api/v1/conversations', { params: { query: { limit: 100 } } }))
//
// `ok()` turns openapi-fetch's { data, error, response } into the data, or throws an ApiError
// (status, code and message from the JSON error body; status 0 for "the node did not answer").
import createClient, { type Middleware } from 'openapi-fetch'
import { getToken, setAuthReason, setToken } from '../auth'
import type { paths } from './schema.gen'
import type { ErrorBody } from './types'

export type ErrorKind = 'network' | 'server' | 'notFound' | 'permission' | 'generic'

export const OFFLINE_MESSAGE = 'Your node is offline; this page will load when it is back.'

export class ApiError extends Error {
  status: number
  code: string
  kind: ErrorKind
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
    this.kind =
      status === 0
        ? 'network'
        : status === 404
          ? 'notFound'
          : status === 401 || status === 403
            ? 'permission'
            : status >= 500
              ? 'server'
              : 'generic'
  }
}

export function isNetworkError(e: unknown): boolean {
  return e instanceof ApiError && e.kind === 'network'
}

/** The gateway answered 401: forget the token so the connect screen shows. */
export function unauthorized() {
  setAuthReason('The node refused the saved token. Connect again.')
  setToken(null)
}

/** Reads `{ error: { code, message } }` from a parsed error body, if that is what it is. */
export function errorFromBody(status: number, statusText: string, body: unknown): ApiError {
  let code = 'error'
  let message = statusText ? `${status} ${statusText}` : `HTTP ${status}`
  const e = (body as Partial<ErrorBody> | null | undefined)?.error
  if (e && typeof e === 'object' && typeof e.message === 'string') {
    code = typeof e.code === 'string' ? e.code : code
    message = e.message
  }
  // A proxy in front of a stopped node answers 502/503/504 without our JSON body: that is "offline".
  if ((status === 502 || status === 503 || status === 504) && code === 'error') return new ApiError(0, 'network', OFFLINE_MESSAGE)
  return new ApiError(status, code, message)
}

const auth: Middleware = {
  onRequest({ request }) {
    // An explicit Authorization header (the connect screen trying a token) wins.
    if (!request.headers.has('Authorization')) {
      const token = getToken()
      if (token) request.headers.set('Authorization', `Bearer ${token}`)
    }
    return request
  },
  onResponse({ request, response }) {
    const saved = getToken()
    if (response.status === 401 && saved && request.headers.get('Authorization') === `Bearer ${saved}`) unauthorized()
    return undefined
  },
}

/** Absolute base URL: Request() needs one outside a browser (tests); in the app it is the page's origin. */
export const baseUrl = typeof location !== 'undefined' && location.origin && location.origin !== 'null' ? location.origin : 'http://localhost'

export const client = createClient<paths>({
  baseUrl,
  // Looked up on every call, so a test's stubbed fetch is used.
  fetch: (req: Request) => globalThis.fetch(req),
})
client.use(auth)

/** Per-call options for `signal`/timeout: a fetch that aborts (kept off Request, whose AbortSignal type differs in tests). */
export function withTimeout(ms: number, signal?: AbortSignal): { fetch: (req: Request) => Promise<Response> } {
  return {
    fetch: (req: Request) => {
      const ctrl = new AbortController()
      const t = setTimeout(() => ctrl.abort(), ms)
      if (signal) {
        if (signal.aborted) ctrl.abort()
        else signal.addEventListener('abort', () => ctrl.abort(), { once: true })
      }
      return globalThis.fetch(req, { signal: ctrl.signal }).finally(() => clearTimeout(t))
    },
  }
}

interface Result<D> {
  data?: D
  error?: unknown
  response: Response
}

/** The call's data, or an ApiError. */
export async function ok<D>(call: Promise<Result<D>>): Promise<D> {
  let r: Result<D>
  try {
    r = await call
  } catch (e) {
    if (e instanceof ApiError) throw e
    if (e instanceof DOMException && e.name === 'AbortError') throw e
    throw new ApiError(0, 'network', OFFLINE_MESSAGE)
  }
  if (!r.response.ok) throw errorFromBody(r.response.status, r.response.statusText, r.error)
  return r.data as D
}

/** WebSocket URL for a gateway path, with the token as `?token=`. */
export function wsUrl(path: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const token = getToken() ?? ''
  const sep = path.includes('?') ? '&' : '?'
  return `${proto}//${location.host}${path}${sep}token=${encodeURIComponent(token)}`
}
