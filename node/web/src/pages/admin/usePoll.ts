// Load now, then again every `ms` while the page is visible (paused while the tab is hidden).
import { useCallback, useEffect, useRef, useState } from 'react'
import { ApiError } from '../../api/client'
import type { Cached } from '../../api/useCached'

export interface Poll<T> extends Cached<T> {
  /** When the data was last loaded (ms). */
  updatedAt: number | null
}

function isHidden() {
  return typeof document !== 'undefined' && document.visibilityState === 'hidden'
}

export function usePoll<T>(fetcher: (signal: AbortSignal) => Promise<T>, ms: number): Poll<T> {
  const [data, setDataState] = useState<T | undefined>(undefined)
  const [error, setError] = useState<ApiError | undefined>(undefined)
  const [loading, setLoading] = useState(true)
  const [updatedAt, setUpdatedAt] = useState<number | null>(null)
  const [n, setN] = useState(0)
  const fetchRef = useRef(fetcher)
  fetchRef.current = fetcher

  useEffect(() => {
    let live = true
    let timer: ReturnType<typeof setTimeout> | undefined
    let inFlight: AbortController | null = null

    const schedule = () => {
      if (timer) clearTimeout(timer)
      timer = undefined
      if (live && !isHidden()) timer = setTimeout(tick, ms)
    }
    async function tick() {
      timer = undefined
      if (!live || inFlight) return
      if (isHidden()) return // resumed by visibilitychange
      const ctrl = new AbortController()
      inFlight = ctrl
      try {
        const d = await fetchRef.current(ctrl.signal)
        if (!live) return
        setDataState(d)
        setError(undefined)
        setUpdatedAt(Date.now())
      } catch (e) {
        if (!live || (e instanceof DOMException && e.name === 'AbortError')) return
        setError(e instanceof ApiError ? e : new ApiError(0, 'network', e instanceof Error ? e.message : String(e)))
      } finally {
        if (inFlight === ctrl) inFlight = null
        if (live) {
          setLoading(false)
          schedule()
        }
      }
    }
    function onVisibility() {
      if (isHidden()) {
        if (timer) clearTimeout(timer)
        timer = undefined
      } else if (!timer && !inFlight) void tick()
    }
    setLoading(true)
    void tick()
    document.addEventListener('visibilitychange', onVisibility)
    return () => {
      live = false
      if (timer) clearTimeout(timer)
      inFlight?.abort()
      document.removeEventListener('visibilitychange', onVisibility)
    }
  }, [ms, n])

  const reload = useCallback(() => setN((x) => x + 1), [])
  const setData = useCallback((f: (d: T | undefined) => T | undefined) => setDataState(f), [])
  return { data, error, loading, stale: false, reload, setData, updatedAt }
}
