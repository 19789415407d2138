// The gateway token: taken from `#token=` once, then kept in localStorage.
export const TOKEN_KEY = 'vivim.token'

type Listener = (token: string | null) => void
const listeners = new Set<Listener>()

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY)
  } catch {
    return null
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token)
    else localStorage.removeItem(TOKEN_KEY)
  } catch {
    /* storage unavailable */
  }
  for (const l of listeners) l(token)
}

export function onTokenChange(l: Listener): () => void {
  listeners.add(l)
  return () => listeners.delete(l)
}

/** Reads `#token=<t>` from the address, stores it and strips it (keeping path and query). */
export function captureTokenFromHash(loc: Location = window.location, hist: History = window.history): boolean {
  const hash = loc.hash.startsWith('#') ? loc.hash.slice(1) : loc.hash
  if (!hash) return false
  const params = new URLSearchParams(hash)
  const token = params.get('token')
  if (!token) return false
  setToken(token)
  params.delete('token')
  const rest = params.toString()
  hist.replaceState(hist.state, '', loc.pathname + loc.search + (rest ? `#${rest}` : ''))
  return true
}

/** Why the connect screen shows, if not simply "no token yet". */
let reason: string | null = null
export function setAuthReason(r: string | null) {
  reason = r
}
export function authReason() {
  return reason
}
