// The gateway's admin endpoints (/api/admin/*) that openapi.json does not describe yet: typed by hand
// and called with fetch + the bearer token. Errors become ApiError like the generated client's
// (errorFromBody; a 401 for the saved token forgets it, as client.ts does).
import { getToken } from '../auth'
import { ApiError, baseUrl, errorFromBody, OFFLINE_MESSAGE, unauthorized, wsUrl } from './client'
import type { ProviderStatus } from './types'

// ---------- types ----------

/** Embedding progress. Older nodes send `conversations_done`/`conversations_pending`; read it defensively. */
export interface SemanticInfo {
  embedder?: string
  dims?: number
  embedded?: number
  pending?: number
  vectors?: number
  running?: boolean
  [extra: string]: unknown
}

/** Bytes on disk per part of the data dir. */
export interface Sizes {
  records: number
  documents: number
  shares: number
  memories: number
  blobs: number
  text_index: number
  vectors: number
  total: number
}

export interface Counts {
  conversations: number
  messages: number
  memories: number
  documents: number
  shares: number
  feed: number
}

export interface BackgroundTask {
  name: string
  label: string
  done: number
  total: number | null
}

export interface AttentionItem {
  kind: string
  message: string
  /** An app path such as "/import" or "/admin/data". */
  link: string
}

export interface AdminStatus {
  did: string
  peer_id: string
  endpoint_id: string
  version: string
  uptime_seconds: number
  data_dir: string
  conversations: number
  acus: number
  index_docs: number
  network: boolean
  cors_origins: string[]
  provider: ProviderStatus | null
  semantic: SemanticInfo | null
  sizes: Sizes | null
  counts: Counts | null
  background: BackgroundTask[]
  attention: AttentionItem[]
}

export interface RouteStat {
  route: string
  requests: number
  mean_ms: number
}

export interface MetricsSample {
  /** Unix ms. */
  t: number
  /** Requests in this interval. */
  requests: number
  /** 5xx answers in this interval. */
  errors: number
  latency_p50_ms: number
  latency_p99_ms: number
  routes: RouteStat[]
  /** ACUs stored (a running total). */
  acus: number
  /** Messages added in this interval. */
  imported: number
  rss_bytes: number
  cpu_percent: number
  /** Per interval. */
  gossip_in_bytes: number
  gossip_out_bytes: number
  peers: number
  dht_records: number
  /** Per interval. */
  blobs_fetched: number
  /** Kademlia queries started in the interval (absent from older nodes). */
  dht_queries?: number
  /** Gossip messages received in the interval. */
  gossip_messages?: number
}

export interface MetricsSeries {
  interval_secs: number
  samples: MetricsSample[]
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace'
export const LOG_LEVELS: LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace']

export interface LogLine {
  seq: number
  time_ms: number
  level: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' | 'TRACE'
  target: string
  message: string
}

export interface LogsResponse {
  lines: LogLine[]
  dropped: number
}

export interface LogQuery {
  level?: LogLevel
  target?: string
  q?: string
  limit?: number
}

export interface IntegrityProblem {
  kind: string
  conversation: string | null
  record: string | null
  detail: string
}

export interface IntegrityReport {
  ok: boolean
  conversations: number
  records_checked: number
  bytes_checked: number
  documents_checked: number
  memories_checked: number
  /** The first problems found (the node lists a limited number). */
  problems: IntegrityProblem[]
  /** All problems found, when the node reports it (may exceed problems.length). */
  problem_count?: number
  index: { docs: number; expected: number; ok: boolean }
  took_ms: number
}

export type RebuildWhat = 'text' | 'vectors'

export interface RebuildResult {
  what: string
  docs: number
  took_ms: number
}

export interface BackupOptions {
  keys: boolean
  passphrase?: string
}

export interface BackupFile {
  blob: Blob
  filename: string
}

export interface PeerInfo {
  peer_id: string
  did: string | null
  addrs: string[]
  rtt_ms: number | null
  direct: boolean
  transport: string
  connected_since_ms: number | null
}

export interface NetworkInfo {
  libp2p: {
    peer_id: string
    listen_addrs: string[]
    connected_peers: number
    dht_peers: number
    dht_records: number
    topics: string[]
    gossip_bytes_out: number
    gossip_bytes_in: number
    buckets: { index: number; peers: number }[]
    mesh: { topic: string; peers: number }[]
    nat: string
    dht_queries?: number
    hole_punches_ok?: number
    hole_punches_failed?: number
    relay_clients?: number
    relay_circuits?: number
  }
  bootstrap_addrs: string[]
  iroh: {
    relay_server: string | null
    home_relay: string | null
    endpoint_id: string
    addrs: string[]
  }
  fetched: number
  rejected: number
  pinned: number
  pins_dropped: number
  /** Whether this node serves as a relay for others (older nodes leave it out). */
  relay?: boolean
  /** What a relay pins for others at most. */
  pin_limits?: { concurrent: number; waiting: number; max_bytes: number }
}

// ---------- transport ----------

/** Sends an admin request with the saved token; a non-2xx answer throws an ApiError. */
export async function adminFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const token = getToken()
  const headers: Record<string, string> = { Accept: 'application/json', ...(init.headers as Record<string, string> | undefined) }
  if (token) headers.Authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await globalThis.fetch(`${baseUrl}${path}`, { ...init, headers })
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e
    throw new ApiError(0, 'network', OFFLINE_MESSAGE)
  }
  if (!res.ok) {
    let body: unknown = null
    try {
      body = await res.json()
    } catch {
      /* not JSON */
    }
    if (res.status === 401 && token && getToken() === token) unauthorized()
    throw errorFromBody(res.status, res.statusText, body)
  }
  return res
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await adminFetch(path, { signal })
  try {
    return (await res.json()) as T
  } catch {
    throw new ApiError(res.status, 'bad_response', 'The node sent an answer this page cannot read.')
  }
}

async function postJson<T>(path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method: 'POST' }
  if (body !== undefined) {
    init.body = JSON.stringify(body)
    init.headers = { 'Content-Type': 'application/json' }
  }
  const res = await adminFetch(path, init)
  try {
    return (await res.json()) as T
  } catch {
    throw new ApiError(res.status, 'bad_response', 'The node sent an answer this page cannot read.')
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
const arr = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : [])

// ---------- calls ----------

export async function getAdminStatus(signal?: AbortSignal): Promise<AdminStatus> {
  const s = await getJson<Partial<AdminStatus> & Record<string, unknown>>('/api/admin/status', signal)
  return {
    ...(s as AdminStatus),
    cors_origins: arr<string>(s.cors_origins),
    provider: s.provider ?? null,
    semantic: s.semantic && typeof s.semantic === 'object' ? s.semantic : null,
    sizes: s.sizes && typeof s.sizes === 'object' ? s.sizes : null,
    counts: s.counts && typeof s.counts === 'object' ? s.counts : null,
    background: arr<BackgroundTask>(s.background),
    attention: arr<AttentionItem>(s.attention),
  }
}

export async function getMetricsSeries(signal?: AbortSignal): Promise<MetricsSeries> {
  const m = await getJson<Partial<MetricsSeries>>('/api/admin/metrics/series', signal)
  return { interval_secs: num(m.interval_secs) || 5, samples: arr<MetricsSample>(m.samples) }
}

export function logsPath(q: LogQuery = {}): string {
  const p = new URLSearchParams()
  if (q.level) p.set('level', q.level)
  if (q.target) p.set('target', q.target)
  if (q.q) p.set('q', q.q)
  if (q.limit != null) p.set('limit', String(q.limit))
  const s = p.toString()
  return `/api/admin/logs${s ? `?${s}` : ''}`
}

export async function getLogs(q: LogQuery = {}, signal?: AbortSignal): Promise<LogsResponse> {
  const r = await getJson<Partial<LogsResponse>>(logsPath(q), signal)
  return { lines: arr<LogLine>(r.lines), dropped: num(r.dropped) ?? 0 }
}

/** ws(s)://<this host>/api/admin/logs/ws?level=…&token=… */
export function logsWsUrl(level: LogLevel): string {
  return wsUrl(`/api/admin/logs/ws?level=${encodeURIComponent(level)}`)
}

export async function checkIntegrity(): Promise<IntegrityReport> {
  const r = await postJson<Partial<IntegrityReport>>('/api/admin/check')
  return {
    ...(r as IntegrityReport),
    problems: arr<IntegrityProblem>(r.problems),
    index: r.index ?? { docs: 0, expected: 0, ok: true },
  }
}

export function rebuildIndex(what: RebuildWhat): Promise<RebuildResult> {
  return postJson<RebuildResult>('/api/admin/rebuild', { what })
}

/** `attachment; filename="x.zip"` → x.zip (only a plain file name; anything else → the fallback). */
export function filenameFromDisposition(header: string | null, fallback: string): string {
  if (!header) return fallback
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(header)
  let name: string | undefined
  if (star) {
    try {
      name = decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''))
    } catch {
      name = undefined
    }
  }
  if (!name) {
    const m = /filename\s*=\s*("([^"]*)"|[^;]+)/i.exec(header)
    name = m ? (m[2] ?? m[1]).trim() : undefined
  }
  if (!name) return fallback
  name = name.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').slice(0, 120)
  return name && name !== '.' && name !== '..' ? name : fallback
}

export async function downloadBackup(opts: BackupOptions): Promise<BackupFile> {
  const body: BackupOptions = opts.keys ? { keys: true, passphrase: opts.passphrase } : { keys: false }
  const res = await adminFetch('/api/admin/backup', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Accept: 'application/zip, application/json' },
  })
  const blob = await res.blob()
  return { blob, filename: filenameFromDisposition(res.headers.get('Content-Disposition'), 'vivim-backup.zip') }
}

export function getPeers(signal?: AbortSignal): Promise<PeerInfo[]> {
  return getJson<PeerInfo[]>('/api/admin/peers', signal).then((l) => arr<PeerInfo>(l))
}

export function getNetwork(signal?: AbortSignal): Promise<NetworkInfo> {
  return getJson<NetworkInfo>('/api/admin/network', signal)
}

/** The node runs without its peer-to-peer network (503 network_off). */
export function isNetworkOff(e: unknown): boolean {
  return e instanceof ApiError && e.code === 'network_off'
}

// ---------- helpers shared by the admin pages ----------

/** Embedded and pending counts of the semantic status, whichever field names the node uses. */
export function semanticProgress(s: SemanticInfo | null | undefined): { embedded: number; pending: number } | null {
  if (!s) return null
  const embedded = num(s.embedded) ?? num(s.conversations_done) ?? num(s.embedded_this_pass)
  const pending = num(s.pending) ?? num(s.conversations_pending)
  if (embedded === undefined && pending === undefined) return null
  return { embedded: embedded ?? 0, pending: pending ?? 0 }
}

/** Starts a browser download of a Blob under `filename`. */
export function saveBlob(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  a.rel = 'noopener'
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
