import { Button } from './Button'
import type { ErrorKind } from '../api/client'

const TEXT: Record<ErrorKind, { title: string; body: string }> = {
  network: { title: 'Your node is offline', body: 'Your node is offline; this page will load when it is back.' },
  server: { title: 'The node ran into a problem', body: 'Something failed on your node. Try again in a moment.' },
  notFound: { title: 'Not here', body: 'This was not found on your node.' },
  permission: { title: 'Not allowed', body: 'Your node did not allow this.' },
  generic: { title: 'Something went wrong', body: 'That did not work.' },
}

export interface ErrorStateProps {
  kind?: ErrorKind
  layout?: 'banner' | 'card'
  title?: string
  message?: string
  onRetry?: () => void
}

export function ErrorState({ kind = 'generic', layout = 'card', title, message, onRetry }: ErrorStateProps) {
  const t = TEXT[kind]
  return (
    <div className={`error-state error-${layout} error-kind-${kind}`} role="alert" data-kind={kind}>
      <div>
        <strong className="error-title">{title ?? t.title}</strong>
        <p>{kind === 'network' ? t.body : message ?? t.body}</p>
      </div>
      {onRetry && (
        <Button variant="secondary" size="sm" onClick={onRetry}>
          Try again
        </Button>
      )}
    </div>
  )
}
