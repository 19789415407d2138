import type { ReactNode } from 'react'
import { Link } from 'react-router'

export type CardVariant = 'default' | 'elevated' | 'outlined' | 'glass'

export interface CardProps {
  variant?: CardVariant
  hoverable?: boolean
  /** Makes the whole card a link (to) or a button (onClick). */
  to?: string
  onClick?: () => void
  className?: string
  children: ReactNode
  'aria-label'?: string
}

export function Card({ variant = 'default', hoverable, to, onClick, className, children, ...rest }: CardProps) {
  const cls = ['card', `card-${variant}`, hoverable || to || onClick ? 'card-hover' : '', to || onClick ? 'card-clickable' : '', className ?? '']
    .filter(Boolean)
    .join(' ')
  if (to)
    return (
      <Link to={to} className={cls} data-variant={variant} aria-label={rest['aria-label']}>
        {children}
      </Link>
    )
  if (onClick)
    return (
      <button type="button" className={cls} data-variant={variant} onClick={onClick} aria-label={rest['aria-label']}>
        {children}
      </button>
    )
  return (
    <div className={cls} data-variant={variant} aria-label={rest['aria-label']}>
      {children}
    </div>
  )
}
