// A social-graph CRDT document over /api/yjs/<doc>, persisted in IndexedDB so offline edits sync later.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { IndexeddbPersistence } from 'y-indexeddb'
import { getToken } from './auth'

export interface OpenDoc {
  doc: Y.Doc
  provider: WebsocketProvider
  local: IndexeddbPersistence
  destroy: () => void
}

export function openDoc(docId: string): OpenDoc {
  const doc = new Y.Doc()
  const local = new IndexeddbPersistence(`vivim-yjs:${docId}`, doc)
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const provider = new WebsocketProvider(`${proto}//${location.host}/api/yjs`, docId, doc, {
    params: { token: getToken() ?? '' },
    disableBc: true,
    maxBackoffTime: 10000,
  })
  return {
    doc,
    provider,
    local,
    destroy: () => {
      provider.destroy()
      void local.destroy()
      doc.destroy()
    },
  }
}
