// Load from the node; keep a copy in Dexie; fall back to the copy when the node is offline.
import { useCallback, useEffect, useRef, useState } from 'react'
import { ApiError } from './client'
import { loadKv, saveKv } from '../db'
import { reportOffline } from './health'

export interface Cached<T> {
  data: T | undefined
  error: ApiError | undefined
  loading: boolean
  /** The data shown is the saved copy (the node did not answer). */
  stale: boolean
  reload: () => void
  setData: (f: (d: T | undefined) => T | undefined) => void
}

export function useCached<T>(key: string | null, fetcher: () => Promise<T>): Cached<T> {
  const [data, setDataState] = useState<T | undefined>(undefined)
  const [error, setError] = useState<ApiError | undefined>(undefined)
  const [loading, setLoading] = useState(true)
  const [stale, setStale] = useState(false)
  const [n, setN] = useState(0)
  const fetchRef = useRef(fetcher)
  fetchRef.current = fetcher

  useEffect(() => {
    let live = true
    setLoading(true)
    setError(undefined)
    ;(async () => {
      try {
        const d = await fetchRef.current()
        if (!live) return
        setDataState(d)
        setStale(false)
        if (key) void saveKv(key, d).catch(() => {})
      } catch (e) {
        if (!live) return
        const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e))
        if (err.kind === 'network') {
          reportOffline()
          const saved = key ? await loadKv<T>(key).catch(() => undefined) : undefined
          if (!live) return
          if (saved) {
            setDataState(saved.value)
            setStale(true)
          } else setError(err)
        } else setError(err)
      } finally {
        if (live) setLoading(false)
      }
    })()
    return () => {
      live = false
    }
  }, [key, n])

  const reload = useCallback(() => setN((x) => x + 1), [])
  const setData = useCallback(
    (f: (d: T | undefined) => T | undefined) =>
      setDataState((d) => {
        const next = f(d)
        if (key && next !== undefined) void saveKv(key, next).catch(() => {})
        return next
      }),
    [key],
  )
  return { data, error, loading, stale, reload, setData }
}
