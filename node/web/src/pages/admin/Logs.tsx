import { memo, useCallback, useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from 'react'
import { ApiError } from '../../api/client'
import { getLogs, LOG_LEVELS, logsWsUrl, saveBlob, type LogLevel, type LogLine } from '../../api/admin'
import { Button, ErrorState } from '../../components'
import { AdminNav } from './AdminNav'
import { formatClock, formatNumber } from './format'

export const MAX_LINES = 5000
const INITIAL = 500
const POLL_MS = 2000
const FLUSH_MS = 150

const RANK: Record<string, number> = { ERROR: 0, WARN: 1, INFO: 2, DEBUG: 3, TRACE: 4 }
const rankOf = (level: string) => RANK[level.toUpperCase()] ?? 2

interface Held extends LogLine {
  /** A key of our own: the node's seq restarts with the node. */
  k: number
}

type Mode = 'connecting' | 'live' | 'polling'

function isLine(v: unknown): v is LogLine {
  const o = v as Partial<LogLine> | null
  return !!o && typeof o === 'object' && typeof o.message === 'string' && typeof o.level === 'string'
}

/** Keeps the newest `max`. */
function cap<T>(list: T[], max = MAX_LINES): T[] {
  return list.length > max ? list.slice(list.length - max) : list
}

export function logText(lines: LogLine[]): string {
  return lines.map((l) => `${new Date(l.time_ms).toISOString()} ${l.level.padEnd(5)} ${l.target}: ${l.message}`).join('\n') + (lines.length ? '\n' : '')
}

export function lineVisible(l: LogLine, level: LogLevel, target: string, text: string): boolean {
  if (rankOf(l.level) > rankOf(level)) return false
  if (target && !l.target.toLowerCase().includes(target.toLowerCase())) return false
  if (text) {
    const t = text.toLowerCase()
    if (!l.message.toLowerCase().includes(t) && !l.target.toLowerCase().includes(t)) return false
  }
  return true
}

const Line = memo(function Line({ l }: { l: Held }) {
  const lv = String(l.level).toUpperCase()
  return (
    <div className={`log-line lv-${lv in RANK ? lv : 'INFO'}`}>
      <time className="log-time" dateTime={new Date(l.time_ms).toISOString()}>
        {formatClock(l.time_ms, true)}
      </time>{' '}
      <span className="log-level">{lv.padEnd(5)}</span> <span className="log-target">{l.target}</span> <span className="log-msg">{l.message}</span>
    </div>
  )
})

export default function AdminLogs() {
  const uid = useId()
  const [level, setLevel] = useState<LogLevel>('info')
  const [target, setTarget] = useState('')
  const [text, setText] = useState('')
  const [paused, setPaused] = useState(false)
  const [lines, setLines] = useState<Held[]>([])
  const [waiting, setWaiting] = useState(0)
  const [mode, setMode] = useState<Mode>('connecting')
  const [dropped, setDropped] = useState(0)
  const [missed, setMissed] = useState(0)
  const [error, setError] = useState<ApiError | null>(null)
  const [attempt, setAttempt] = useState(0)

  const pausedRef = useRef(false)
  const heldRef = useRef<Held[]>([])
  const incomingRef = useRef<Held[]>([])
  const flushRef = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const keyRef = useRef(0)

  const flush = useCallback(() => {
    flushRef.current = undefined
    const batch = incomingRef.current
    if (batch.length === 0) return
    incomingRef.current = []
    if (pausedRef.current) {
      heldRef.current = cap([...heldRef.current, ...batch])
      setWaiting(heldRef.current.length)
    } else setLines((prev) => cap(prev.concat(batch)))
  }, [])

  useEffect(() => {
    let live = true
    let ws: WebSocket | null = null
    let poll: ReturnType<typeof setTimeout> | undefined
    let maxSeq = -1
    const tag = (l: LogLine): Held => ({ ...l, k: keyRef.current++ })

    /** Queues new lines (those after the last seq seen) for the next flush. */
    const push = (list: LogLine[]) => {
      const fresh: Held[] = []
      for (const l of list) {
        if (!isLine(l)) continue
        if (typeof l.seq === 'number') {
          if (l.seq <= maxSeq) continue
          maxSeq = l.seq
        }
        fresh.push(tag(l))
      }
      if (fresh.length === 0) return
      incomingRef.current.push(...fresh)
      if (!flushRef.current) flushRef.current = setTimeout(flush, FLUSH_MS)
    }

    const startPolling = () => {
      if (!live) return
      setMode('polling')
      const tick = async () => {
        try {
          const r = await getLogs({ level, limit: INITIAL })
          if (!live) return
          const newest = r.lines.reduce((m, l) => (typeof l.seq === 'number' && l.seq > m ? l.seq : m), -1)
          if (newest >= 0 && newest < maxSeq) maxSeq = -1 // the node restarted: its seq began again
          push(r.lines)
          setDropped(r.dropped)
          setError(null)
        } catch (e) {
          if (live && e instanceof ApiError) setError(e)
        }
        if (live) poll = setTimeout(tick, POLL_MS)
      }
      poll = setTimeout(tick, POLL_MS)
    }

    const openSocket = () => {
      if (!live) return
      if (typeof WebSocket === 'undefined') return startPolling()
      try {
        ws = new WebSocket(logsWsUrl(level))
      } catch {
        ws = null
        return startPolling()
      }
      ws.onopen = () => {
        if (live) setMode('live')
      }
      ws.onmessage = (m: MessageEvent) => {
        if (!live || typeof m.data !== 'string') return
        try {
          const v: unknown = JSON.parse(m.data)
          const o = v as { type?: unknown; missed?: unknown } | null
          // The socket fell behind the node's log: those lines were skipped.
          if (o && o.type === 'lagged') {
            if (typeof o.missed === 'number') setMissed((x) => x + (o.missed as number))
            return
          }
          push(Array.isArray(v) ? v : [v as LogLine])
        } catch {
          /* not a line */
        }
      }
      ws.onclose = () => {
        ws = null
        startPolling()
      }
    }

    setMode('connecting')
    ;(async () => {
      try {
        const r = await getLogs({ level, limit: INITIAL })
        if (!live) return
        const first: Held[] = []
        for (const l of [...r.lines].filter(isLine).sort((a, b) => a.seq - b.seq)) {
          if (typeof l.seq === 'number') maxSeq = Math.max(maxSeq, l.seq)
          first.push(tag(l))
        }
        // A new level replaces what is shown with the node's own history at that level.
        incomingRef.current = []
        heldRef.current = []
        setWaiting(0)
        setLines(cap(first))
        setDropped(r.dropped)
        setError(null)
      } catch (e) {
        if (!live) return
        setError(e instanceof ApiError ? e : new ApiError(0, 'network', String(e)))
      }
      openSocket()
    })()

    return () => {
      live = false
      if (poll) clearTimeout(poll)
      if (ws) {
        ws.onclose = null
        ws.close()
      }
    }
  }, [level, attempt, flush])

  useEffect(
    () => () => {
      if (flushRef.current) clearTimeout(flushRef.current)
    },
    [],
  )

  function pause() {
    pausedRef.current = true
    setPaused(true)
  }
  function resume() {
    pausedRef.current = false
    setPaused(false)
    const held = heldRef.current.concat(incomingRef.current)
    heldRef.current = []
    incomingRef.current = []
    setWaiting(0)
    if (held.length) setLines((prev) => cap(prev.concat(held)))
  }
  function clear() {
    heldRef.current = []
    incomingRef.current = []
    setWaiting(0)
    setLines([])
  }
  function download() {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    saveBlob(new Blob([logText(lines)], { type: 'text/plain;charset=utf-8' }), `vivim-${stamp}.log`)
  }

  const visible = useMemo(() => lines.filter((l) => lineVisible(l, level, target.trim(), text.trim())), [lines, level, target, text])

  // Follow the newest line unless the reader scrolled up.
  const boxRef = useRef<HTMLDivElement>(null)
  const stickRef = useRef(true)
  const [atBottom, setAtBottom] = useState(true)
  function onScroll() {
    const el = boxRef.current
    if (!el) return
    const b = el.scrollHeight - el.scrollTop - el.clientHeight < 32
    stickRef.current = b
    setAtBottom(b)
  }
  useLayoutEffect(() => {
    const el = boxRef.current
    if (el && stickRef.current) el.scrollTop = el.scrollHeight
  }, [visible])
  function toBottom() {
    const el = boxRef.current
    stickRef.current = true
    setAtBottom(true)
    if (el) el.scrollTop = el.scrollHeight
  }

  const modeText = mode === 'live' ? 'Live' : mode === 'polling' ? `Polling every ${POLL_MS / 1000} s (the live stream is unavailable)` : 'Connecting…'
  return (
    <section className="admin admin-logs">
      <AdminNav />
      <h1>Logs</h1>
      <div className="toolbar log-toolbar">
        <span className="inline-field">
          <label htmlFor={`${uid}-level`}>Level</label>
          <select id={`${uid}-level`} value={level} onChange={(e) => setLevel(e.target.value as LogLevel)}>
            {LOG_LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </span>
        <span className="inline-field">
          <label htmlFor={`${uid}-target`}>Target</label>
          <input id={`${uid}-target`} value={target} onChange={(e) => setTarget(e.target.value)} placeholder="vivim_node::gateway" spellCheck={false} />
        </span>
        <span className="inline-field">
          <label htmlFor={`${uid}-q`}>Search</label>
          <input id={`${uid}-q`} type="search" value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
        </span>
        <span className="row log-buttons">
          {paused ? (
            <Button size="sm" variant="primary" onClick={resume}>
              Resume
            </Button>
          ) : (
            <Button size="sm" onClick={pause}>
              Pause
            </Button>
          )}
          <Button size="sm" onClick={clear}>
            Clear
          </Button>
          <Button size="sm" onClick={download} disabled={lines.length === 0}>
            Download
          </Button>
          {mode === 'polling' && (
            <Button size="sm" variant="ghost" onClick={() => setAttempt((x) => x + 1)}>
              Reconnect live
            </Button>
          )}
        </span>
      </div>
      <p className="muted log-status" aria-live="polite">
        {modeText} · showing {formatNumber(visible.length, 0)} of {formatNumber(lines.length, 0)} lines held (at most {formatNumber(MAX_LINES, 0)})
        {paused ? ` · Paused: ${formatNumber(waiting, 0)} new lines waiting` : ''}
        {dropped > 0 ? ` · ${formatNumber(dropped, 0)} older lines are no longer kept by the node` : ''}
        {missed > 0 ? ` · the live stream skipped ${formatNumber(missed, 0)} lines` : ''}
      </p>
      {error && <ErrorState layout="banner" kind={error.kind} message={error.message} onRetry={() => setAttempt((x) => x + 1)} />}
      <div className="log-wrap">
        <div ref={boxRef} className="log-box" role="log" aria-live="off" aria-label="Log lines" tabIndex={0} onScroll={onScroll}>
          {visible.length === 0 ? <p className="muted log-empty">{lines.length === 0 ? 'No log lines yet.' : 'No line matches the filters.'}</p> : visible.map((l) => <Line key={l.k} l={l} />)}
        </div>
        {!atBottom && visible.length > 0 && (
          <Button size="sm" variant="primary" className="log-jump" onClick={toBottom}>
            Jump to latest
          </Button>
        )}
      </div>
    </section>
  )
}
