// /api/ws: the node's events, one shared socket with reconnect.
import { useEffect, useRef } from 'react'
import { wsUrl } from './client'
import type { FeedItem, ImportResult } from './types'

// The /api/ws messages are not part of openapi.json (it describes HTTP only); their payloads reuse
// the generated schemas where the node sends the same structs (node.rs `Event`).
export type NodeEvent =
  | { type: 'conversation_imported'; id: string; title: string; message_count: number }
  | { type: 'acu_added'; id: string; conversation: string }
  | { type: 'conversation_deleted'; id: string }
  | { type: 'import_finished'; summary: ImportResult }
  | { type: 'feed_item'; item: FeedItem }
  | { type: 'doc_changed'; doc: string; seq: number; local: boolean }
  | { type: 'lagged'; missed: number }
  /** Someone this node does not know sent a share or told it about a document: a message request. */
  | { type: 'request'; did: string }

type Handler = (e: NodeEvent) => void
const handlers = new Set<Handler>()
let ws: WebSocket | null = null
let retry: ReturnType<typeof setTimeout> | undefined
let backoff = 1000

function connect() {
  if (ws || handlers.size === 0 || typeof WebSocket === 'undefined') return
  try {
    ws = new WebSocket(wsUrl('/api/ws'))
  } catch {
    ws = null
    return
  }
  ws.onopen = () => {
    backoff = 1000
  }
  ws.onmessage = (m) => {
    if (typeof m.data !== 'string') return
    let ev: NodeEvent
    try {
      ev = JSON.parse(m.data) as NodeEvent
    } catch {
      return
    }
    for (const h of handlers) h(ev)
  }
  ws.onclose = () => {
    ws = null
    if (handlers.size > 0) {
      retry = setTimeout(connect, backoff)
      backoff = Math.min(backoff * 2, 30000)
    }
  }
}

export function subscribeEvents(h: Handler): () => void {
  handlers.add(h)
  connect()
  return () => {
    handlers.delete(h)
    if (handlers.size === 0) {
      if (retry) clearTimeout(retry)
      ws?.close()
      ws = null
    }
  }
}

export function useNodeEvents(h: Handler) {
  const ref = useRef(h)
  ref.current = h
  useEffect(() => subscribeEvents((e) => ref.current(e)), [])
}
