import { fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setToken } from '../auth'
import { AppRoutes } from '../App'
import { resetHealth } from '../api/health'
import type { ConversationDetail, MessageView } from '../api/types'
import { db } from '../db'
import { foldLabel, isBlankMessage } from '../pages/Reader'
import { conv, json, mockFetch } from './helpers'

// jsdom has no layout: every message measures 120 px and the window is 800 px high, so the
// window virtualizer has something to compute a window from.
const ITEM = 120
beforeEach(() => {
  setToken('t')
  vi.stubGlobal('WebSocket', undefined)
  vi.stubGlobal('innerHeight', 800)
  vi.stubGlobal('scrollTo', vi.fn())
  vi.spyOn(HTMLElement.prototype, 'offsetHeight', 'get').mockImplementation(function (this: HTMLElement) {
    return this.hasAttribute('data-index') ? ITEM : 0
  })
})
afterEach(async () => {
  resetHealth()
  await Promise.all([db.pages.clear(), db.conversations.clear(), db.kv.clear()])
})

function msg(id: string, parent: string | null, over: Partial<MessageView> = {}): MessageView {
  return { id, parent, conversation: 'c1', role: 'user', kind: 'text', sealed: false, created_at: '', created_at_ms: 0, author: 'did:key:x', meta: {}, text: `text of ${id}`, ...over }
}

/** A chain: ChatGPT's hidden empty system root, then `n` messages. */
function longConversation(n: number): ConversationDetail {
  const messages: MessageView[] = [msg('sys', null, { role: 'system', text: '', meta: { content_type: 'text' } })]
  let parent = 'sys'
  for (let i = 0; i < n; i++) {
    const id = `m${i}`
    messages.push(msg(id, parent, { role: i % 2 ? 'assistant' : 'user', text: `message number ${i} **bold**` }))
    parent = id
  }
  return { conversation: conv(1, { title: 'Long talk', message_count: n + 1, head: parent }), messages }
}

function renderReader(detail: ConversationDetail) {
  const asked: string[] = []
  mockFetch((u) => {
    if (u.pathname === `/api/v1/conversations/${detail.conversation.id}`) {
      asked.push(u.pathname)
      return json(detail)
    }
    return undefined
  })
  render(
    <MemoryRouter initialEntries={[`/c/${detail.conversation.id}`]}>
      <AppRoutes />
    </MemoryRouter>,
  )
  return asked
}

describe('virtualized reader', () => {
  it('renders only a window of a 2,000-message conversation, first message and h1 shown', async () => {
    renderReader(longConversation(2000))
    expect(await screen.findByRole('heading', { level: 1, name: 'Long talk' })).toBeTruthy()
    expect(await screen.findByText(/message number 0\b/)).toBeTruthy()
    const feed = screen.getByRole('feed', { name: 'Messages' })
    const articles = within(feed).getAllByRole('article')
    // 800 px of window / 120 px per message, plus the overscan either side: far from 2,000.
    expect(articles.length).toBeGreaterThan(3)
    expect(articles.length).toBeLessThan(30)
    expect(document.querySelectorAll('.md').length).toBe(articles.length)
    // Screen-reader semantics: each article knows its place in the whole list.
    expect(articles[0].getAttribute('aria-posinset')).toBe('1')
    expect(articles[0].getAttribute('aria-setsize')).toBe('2000')
    expect(articles[0].getAttribute('aria-label')).toBe('user message')
    expect(articles[0].querySelector('strong')?.textContent).toBe('bold')
    expect(screen.queryByText(/message number 1999\b/)).toBeNull()
    // The empty system node is not shown, but the count from the API is.
    expect(screen.queryByText('system')).toBeNull()
    expect(screen.getByText(/2001 messages/)).toBeTruthy()
    // The whole text stays reachable through Export.
    expect(screen.getByRole('button', { name: 'Export' })).toBeTruthy()
  })

  it('keeps branch switching and folding', async () => {
    const detail: ConversationDetail = {
      conversation: conv(1, { title: 'Forked talk', head: 'a2' }),
      messages: [
        msg('r', null, { text: 'root question' }),
        msg('a', 'r', { role: 'assistant', text: 'first answer' }),
        msg('b', 'r', { role: 'assistant', text: 'second answer' }),
        msg('a2', 'a', { role: 'assistant', kind: 'thinking', text: 'deep thoughts' }),
      ],
    }
    renderReader(detail)
    expect(await screen.findByText('first answer')).toBeTruthy()
    const branch = screen.getByRole('group', { name: 'Branch' })
    expect(within(branch).getByText('Branch 1 of 2')).toBeTruthy()
    // Folded thinking: rendered once opened.
    expect(screen.getByText('Thinking')).toBeTruthy()
    expect(screen.queryByText('deep thoughts')).toBeNull()
    const details = screen.getByText('Thinking').closest('details')!
    details.open = true
    fireEvent(details, new Event('toggle'))
    expect(await screen.findByText('deep thoughts')).toBeTruthy()

    fireEvent.click(screen.getByRole('button', { name: 'Next branch' }))
    expect(await screen.findByText('second answer')).toBeTruthy()
    await waitFor(() => expect(screen.queryByText('first answer')).toBeNull())
    expect(screen.getByText('Branch 2 of 2')).toBeTruthy()
    expect(screen.queryByText('Thinking')).toBeNull()
  })
})

describe('blank messages', () => {
  it('hides only empty nodes without attachment or tool content', () => {
    expect(isBlankMessage(msg('s', null, { role: 'system', text: '  \n' }))).toBe(true)
    expect(isBlankMessage(msg('s', null, { text: null }))).toBe(true)
    expect(isBlankMessage(msg('s', null, { text: 'hi' }))).toBe(false)
    expect(isBlankMessage(msg('s', null, { text: '', kind: 'image' }))).toBe(false)
    expect(isBlankMessage(msg('s', null, { text: '', kind: 'tool_call' }))).toBe(false)
    expect(isBlankMessage(msg('s', null, { text: '', meta: { name: 'report.pdf' } }))).toBe(false)
    expect(isBlankMessage(msg('s', null, { text: null, sealed: true }))).toBe(false)
  })
})

describe('folded messages', () => {
  it('folds context the model was given, named for what it is, and leaves turns open', () => {
    expect(foldLabel(msg('c', null, { role: 'system', kind: 'other', meta: { content_type: 'user_editable_context' } }))).toBe('Custom instructions')
    expect(foldLabel(msg('c', null, { role: 'system', kind: 'other', meta: { content_type: 'model_editable_context' } }))).toBe('What ChatGPT remembered (memory)')
    expect(foldLabel(msg('c', null, { role: 'system', text: 'You are a helpful assistant' }))).toBe('System prompt')
    expect(foldLabel(msg('c', null, { kind: 'other' }))).toBe('Hidden context')
    expect(foldLabel(msg('c', null, { kind: 'thinking' }))).toBe('Thinking')
    expect(foldLabel(msg('c', null, { text: 'hello' }))).toBeUndefined()
    expect(foldLabel(msg('c', null, { role: 'assistant', kind: 'markdown' }))).toBeUndefined()
  })
})
