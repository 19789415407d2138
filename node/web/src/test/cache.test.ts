import { describe, expect, it } from 'vitest'
import { loadConversation, loadPage, saveConversation, savePage, forgetConversation } from '../db'
import type { ConversationDetail } from '../api/types'
import { conv } from './helpers'

describe('Dexie cache', () => {
  it('saves and loads a conversation', async () => {
    const d: ConversationDetail = {
      conversation: conv(1),
      messages: [{ id: 'm1', conversation: 'c1', role: 'user', kind: 'text', sealed: false, created_at: '', created_at_ms: 0, author: 'did:key:x', meta: {}, text: 'héllo 你好 👋' }],
    }
    await saveConversation(d)
    const back = await loadConversation('c1')
    expect(back?.messages[0].text).toBe('héllo 你好 👋')
    await savePage('', { items: [conv(1), conv(2)], next_cursor: 'n1' })
    await forgetConversation('c1')
    expect(await loadConversation('c1')).toBeUndefined()
    expect((await loadPage(''))?.items.map((c) => c.id)).toEqual(['c2'])
  })
})
