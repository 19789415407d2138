// The browser's copy of what the node showed: Dexie over IndexedDB.
import Dexie, { type EntityTable } from 'dexie'
import type { ConversationDetail, ConversationPage } from './api/types'

export interface PageRow {
  /** '' for the first page, else the cursor that fetched it. */
  cursor: string
  page: ConversationPage
  at: number
}
export interface ConvRow {
  id: string
  detail: ConversationDetail
  at: number
}
export interface KvRow {
  key: string
  value: unknown
  at: number
}

export class VivimDb extends Dexie {
  pages!: EntityTable<PageRow, 'cursor'>
  conversations!: EntityTable<ConvRow, 'id'>
  kv!: EntityTable<KvRow, 'key'>
  constructor(name = 'vivim') {
    super(name)
    this.version(1).stores({ pages: 'cursor, at', conversations: 'id, at', kv: 'key' })
  }
}

export const db = new VivimDb()

export async function savePage(cursor: string, page: ConversationPage) {
  await db.pages.put({ cursor, page, at: Date.now() })
}
export async function loadPage(cursor: string): Promise<ConversationPage | undefined> {
  return (await db.pages.get(cursor))?.page
}
export async function saveConversation(detail: ConversationDetail) {
  await db.conversations.put({ id: detail.conversation.id, detail, at: Date.now() })
}
export async function loadConversation(id: string): Promise<ConversationDetail | undefined> {
  return (await db.conversations.get(id))?.detail
}
export async function forgetConversation(id: string) {
  await db.conversations.delete(id)
  // Drop it from cached list pages too.
  await db.pages.toCollection().modify((row) => {
    row.page = { ...row.page, items: row.page.items.filter((c) => c.id !== id) }
  })
}
export async function saveKv(key: string, value: unknown) {
  await db.kv.put({ key, value, at: Date.now() })
}
export async function loadKv<T>(key: string): Promise<{ value: T; at: number } | undefined> {
  const row = await db.kv.get(key)
  return row ? { value: row.value as T, at: row.at } : undefined
}
/** Disconnect: nothing of the user's stays in this browser. */
export async function clearAll() {
  await Promise.all([db.pages.clear(), db.conversations.clear(), db.kv.clear()])
}
