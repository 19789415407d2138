export type SkeletonVariant = 'page' | 'conversation' | 'detail' | 'table'

export function Skeleton({ variant = 'page', rows = 6, label = 'Loading' }: { variant?: SkeletonVariant; rows?: number; label?: string }) {
  const lines = Array.from({ length: rows }, (_, i) => i)
  return (
    <div className={`skeleton skeleton-${variant}`} aria-busy="true" aria-live="polite" data-variant={variant}>
      <span className="sr-only">{label}…</span>
      {variant === 'detail' && <div className="sk sk-title" />}
      {lines.map((i) =>
        variant === 'table' ? (
          <div key={i} className="sk-row">
            <div className="sk sk-cell" />
            <div className="sk sk-cell" />
            <div className="sk sk-cell short" />
          </div>
        ) : variant === 'conversation' ? (
          <div key={i} className="sk-conv">
            <div className="sk sk-line" />
            <div className="sk sk-line short" />
          </div>
        ) : variant === 'detail' ? (
          <div key={i} className="sk-msg">
            <div className="sk sk-label" />
            <div className="sk sk-block" />
          </div>
        ) : (
          <div key={i} className="sk sk-line" />
        ),
      )}
    </div>
  )
}
