import { useEffect, useState, type ReactNode } from 'react'
import { NavLink, useLocation } from 'react-router'
import { useNodeEvents } from './api/events'
import { startHealth, useOnline } from './api/health'
import { refreshRequestCount, useRequestCount } from './api/requests'
import { Toasts } from './components'

export const NAV: { to: string; label: string }[] = [
  { to: '/', label: 'Conversations' },
  { to: '/search', label: 'Search' },
  { to: '/import', label: 'Import' },
  { to: '/feed', label: 'Feed' },
  { to: '/requests', label: 'Requests' },
  { to: '/shares', label: 'Shares' },
  { to: '/people', label: 'People' },
  { to: '/circles', label: 'Circles' },
  { to: '/groups', label: 'Groups' },
  { to: '/teams', label: 'Teams' },
  { to: '/memories', label: 'Memories' },
  { to: '/context', label: 'Context' },
  { to: '/settings', label: 'Settings' },
  { to: '/admin', label: 'Admin' },
]

export const OFFLINE_TEXT =
  'Your node is offline — showing what this browser saved. Changes you make wait until it is back.'

export function OfflineBanner() {
  const online = useOnline()
  if (online) return null
  return (
    <div className="offline-banner" role="status">
      {OFFLINE_TEXT}
    </div>
  )
}

/** The number of pending message requests next to the Requests link (nothing when there are none). */
function RequestBadge() {
  const n = useRequestCount()
  const online = useOnline()
  useEffect(() => {
    if (online) void refreshRequestCount()
  }, [online])
  useNodeEvents((e) => {
    if (e.type === 'request' || e.type === 'lagged') void refreshRequestCount()
  })
  if (n <= 0) return null
  return (
    <>
      {' '}
      <span className="nav-badge" aria-hidden="true">
        {n > 99 ? '99+' : n}
      </span>
      <span className="sr-only">({n} pending)</span>
    </>
  )
}

export function Shell({ children }: { children: ReactNode }) {
  const [open, setOpen] = useState(false)
  const loc = useLocation()
  useEffect(() => {
    startHealth()
  }, [])
  useEffect(() => setOpen(false), [loc.pathname])
  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand" aria-hidden="true">
          VIVIM
        </span>
        <button
          type="button"
          className="btn btn-ghost btn-md menu-btn"
          aria-expanded={open}
          aria-controls="nav"
          onClick={() => setOpen((o) => !o)}
        >
          Menu
        </button>
      </header>
      <nav id="nav" className={open ? 'nav open' : 'nav'} aria-label="Main">
        <span className="brand nav-brand">VIVIM</span>
        <ul>
          {NAV.map((n) => (
            <li key={n.to}>
              <NavLink to={n.to} end={n.to === '/'}>
                {n.label}
                {n.to === '/requests' && <RequestBadge />}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <div className="content">
        <OfflineBanner />
        <main id="main" tabIndex={-1}>
          {children}
        </main>
      </div>
      <Toasts />
    </div>
  )
}
