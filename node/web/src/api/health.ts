// Is the node reachable? Polls /api/health (no token) every 5 s, and on online/focus.
import { useSyncExternalStore } from 'react'

let online = true
let started = false
let timer: ReturnType<typeof setInterval> | undefined
const subs = new Set<() => void>()

function set(v: boolean) {
  if (v === online) return
  online = v
  for (const s of subs) s()
}

export async function checkHealth(timeoutMs = 4000): Promise<boolean> {
  const ctrl = new AbortController()
  const t = setTimeout(() => ctrl.abort(), timeoutMs)
  try {
    const res = await fetch('/api/health', { signal: ctrl.signal, cache: 'no-store' })
    // A proxy in front of a stopped node answers 502-504; anything else means the node answered.
    const ok = !(res.status === 502 || res.status === 503 || res.status === 504)
    set(ok)
    return ok
  } catch {
    set(false)
    return false
  } finally {
    clearTimeout(t)
  }
}

export function startHealth(intervalMs = 5000) {
  if (started) return
  started = true
  void checkHealth()
  timer = setInterval(() => void checkHealth(), intervalMs)
  window.addEventListener('online', onPoke)
  window.addEventListener('focus', onPoke)
  window.addEventListener('offline', onOffline)
}
export function stopHealth() {
  started = false
  if (timer) clearInterval(timer)
  window.removeEventListener('online', onPoke)
  window.removeEventListener('focus', onPoke)
  window.removeEventListener('offline', onOffline)
}
function onPoke() {
  void checkHealth()
}
function onOffline() {
  set(false)
}
/** For tests. */
export function resetHealth() {
  stopHealth()
  online = true
}
export function reportOffline() {
  set(false)
}

export function useOnline(): boolean {
  return useSyncExternalStore(
    (cb) => {
      subs.add(cb)
      return () => subs.delete(cb)
    },
    () => online,
  )
}
