// Delete with an undo window: hidden at once, DELETE sent after the toast expires.
import { useSyncExternalStore } from 'react'
import { client, ok } from './api/client'
import { forgetConversation } from './db'
import { showToast } from './components/Toast'

let pending = new Set<string>()
const subs = new Set<() => void>()
const emit = () => subs.forEach((s) => s())

export const UNDO_MS = 5000

export function scheduleDelete(id: string, ms = UNDO_MS) {
  pending = new Set(pending).add(id)
  emit()
  const timer = setTimeout(async () => {
    try {
      await ok(client.DELETE('/api/v1/conversations/{id}', { params: { path: { id } } }))
      await forgetConversation(id).catch(() => {})
    } catch (e) {
      showToast(`Could not delete: ${e instanceof Error ? e.message : String(e)}`)
    }
    pending = new Set(pending)
    pending.delete(id)
    emit()
  }, ms)
  showToast('Deleted', {
    ms,
    action: {
      label: 'Undo',
      run: () => {
        clearTimeout(timer)
        pending = new Set(pending)
        pending.delete(id)
        emit()
      },
    },
  })
}

export function usePendingDeletes(): Set<string> {
  return useSyncExternalStore(
    (cb) => {
      subs.add(cb)
      return () => subs.delete(cb)
    },
    () => pending,
  )
}
