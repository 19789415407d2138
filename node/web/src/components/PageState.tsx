import type { ReactNode } from 'react'
import type { Cached } from '../api/useCached'
import { ErrorState } from './ErrorState'
import { Skeleton, type SkeletonVariant } from './Skeleton'

export function StaleNote({ show }: { show: boolean }) {
  if (!show) return null
  return <p className="stale-note">Showing what this browser saved; your node did not answer.</p>
}

/** Loading → skeleton; error without data → ErrorState; else children(data). */
export function PageState<T>({ q, skeleton = 'page', children }: { q: Cached<T>; skeleton?: SkeletonVariant; children: (d: T) => ReactNode }) {
  if (q.data !== undefined)
    return (
      <>
        <StaleNote show={q.stale} />
        {children(q.data)}
      </>
    )
  if (q.loading) return <Skeleton variant={skeleton} />
  if (q.error) return <ErrorState kind={q.error.kind} message={q.error.message} onRetry={q.reload} />
  return null
}
