import { useSyncExternalStore } from 'react'

export interface Toast {
  id: number
  text: string
  action?: { label: string; run: () => void }
}
let toasts: Toast[] = []
let next = 1
const subs = new Set<() => void>()
const emit = () => subs.forEach((s) => s())

export function showToast(text: string, opts: { action?: Toast['action']; ms?: number } = {}): number {
  const id = next++
  toasts = [...toasts, { id, text, action: opts.action }]
  emit()
  setTimeout(() => dismissToast(id), opts.ms ?? 5000)
  return id
}
export function dismissToast(id: number) {
  toasts = toasts.filter((t) => t.id !== id)
  emit()
}

export function Toasts() {
  const list = useSyncExternalStore(
    (cb) => {
      subs.add(cb)
      return () => subs.delete(cb)
    },
    () => toasts,
  )
  return (
    <div className="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} className="toast">
          <span>{t.text}</span>
          {t.action && (
            <button
              type="button"
              className="btn btn-ghost btn-sm"
              onClick={() => {
                t.action!.run()
                dismissToast(t.id)
              }}
            >
              {t.action.label}
            </button>
          )}
        </div>
      ))}
    </div>
  )
}
