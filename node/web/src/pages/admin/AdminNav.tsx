import { NavLink } from 'react-router'

export const ADMIN_TABS: { to: string; label: string }[] = [
  { to: '/admin', label: 'Status' },
  { to: '/admin/metrics', label: 'Metrics' },
  { to: '/admin/network', label: 'Network' },
  { to: '/admin/logs', label: 'Logs' },
  { to: '/admin/data', label: 'Data care' },
]

/** The tabs shared by the admin pages (links, so each page has its own address). */
export function AdminNav() {
  return (
    <nav className="admin-tabs" aria-label="Admin">
      <ul>
        {ADMIN_TABS.map((t) => (
          <li key={t.to}>
            <NavLink to={t.to} end>
              {t.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  )
}

/** A small "updated at" note for polled pages. */
export function Updated({ at, every }: { at: number | null; every: string }) {
  if (!at) return null
  return (
    <p className="muted admin-updated">
      Updated {new Date(at).toLocaleTimeString()} · refreshes every {every} while this tab is visible
    </p>
  )
}
