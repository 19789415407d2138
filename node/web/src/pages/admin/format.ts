// Number, size and time formatting for the admin pages.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—'
  const neg = n < 0
  let v = Math.abs(n)
  let i = 0
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024
    i++
  }
  const s = i === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
  return `${neg ? '-' : ''}${s} ${UNITS[i]}`
}

/** 93784 → "1 d 2 h 3 min". Shows at most the two largest parts below a day, three above. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return '—'
  const s = Math.floor(seconds)
  if (s < 60) return `${s} s`
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (d > 0) return [`${d} d`, h ? `${h} h` : '', m ? `${m} min` : ''].filter(Boolean).join(' ')
  if (h > 0) return [`${h} h`, m ? `${m} min` : ''].filter(Boolean).join(' ')
  return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`
}

/** A count or rate for display ("1,234", "0.4"): fewer decimals for larger values. */
export function formatNumber(n: number | null | undefined, digits = 1): string {
  if (n == null || !Number.isFinite(n)) return '—'
  const f = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? Math.min(digits, 1) : digits
  return n.toLocaleString(undefined, { maximumFractionDigits: f })
}

/** Local date and time of a unix-ms instant. */
export function formatDateTime(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—'
  return new Date(ms).toLocaleString()
}

/** HH:MM:SS of a unix-ms instant (local). */
export function formatClock(ms: number, withMs = false): string {
  const d = new Date(ms)
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  const base = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  return withMs ? `${base}.${p(d.getMilliseconds(), 3)}` : base
}

/** "did:key:z6MkabcdefghijklmnopqrstuvwXYZ" → "did:key:z6Mkabcd…uvwXYZ". */
export function shortId(s: string, head = 12, tail = 6): string {
  return s.length > head + tail + 1 ? `${s.slice(0, head)}…${s.slice(-tail)}` : s
}

/** Only same-app paths ("/import", "/admin/data?x=1") are followed as links. */
export function isAppPath(link: unknown): link is string {
  return typeof link === 'string' && link.startsWith('/') && !link.startsWith('//') && !link.startsWith('/\\')
}
