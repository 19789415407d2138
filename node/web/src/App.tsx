import { lazy, Suspense, useEffect, useState, useSyncExternalStore, type ComponentType } from 'react'
import { BrowserRouter, Route, Routes } from 'react-router'
import { getToken, onTokenChange } from './auth'
import { Connect } from './pages/Connect'
import { Shell } from './Shell'
import { Skeleton } from './components'

/**
 * A route's page, loaded on demand. `preload()` fetches its chunk ahead; a page whose chunk is
 * already loaded renders directly instead of suspending (a Suspense boundary that showed its
 * fallback holds the content back for React's 300 ms reveal throttle).
 */
function lazyPage<P extends object>(load: () => Promise<{ default: ComponentType<P> }>) {
  let loaded: ComponentType<P> | null = null
  let pending: Promise<unknown> | null = null
  const get = () =>
    load().then((m) => {
      loaded = m.default
      return m
    })
  const Lazy = lazy(get)
  function Page(props: P) {
    // Decided once per mount: switching between the two element types would remount the page.
    const [Direct] = useState(() => loaded)
    return Direct ? <Direct {...props} /> : <Lazy {...props} />
  }
  return Object.assign(Page, { preload: () => (pending ??= get().catch(() => (pending = null))) })
}

const Conversations = lazyPage(() => import('./pages/Conversations'))
const Reader = lazyPage(() => import('./pages/Reader'))
const Search = lazyPage(() => import('./pages/Search'))
const Import = lazyPage(() => import('./pages/Import'))
const People = lazyPage(() => import('./pages/People'))
const Circles = lazyPage(() => import('./pages/Circles'))
const Groups = lazyPage(() => import('./pages/Groups'))
const Shares = lazyPage(() => import('./pages/Shares'))
const OpenLink = lazyPage(() => import('./pages/OpenLink'))
const Feed = lazyPage(() => import('./pages/Feed'))
const Requests = lazyPage(() => import('./pages/Requests'))
const Memories = lazyPage(() => import('./pages/Memories'))
const ContextPage = lazyPage(() => import('./pages/Context'))
const Settings = lazyPage(() => import('./pages/Settings'))
const NotFound = lazyPage(() => import('./pages/NotFound'))
const AdminStatus = lazyPage(() => import('./pages/admin/Status'))
const AdminMetrics = lazyPage(() => import('./pages/admin/Metrics'))
const AdminNetwork = lazyPage(() => import('./pages/admin/Network'))
const AdminLogs = lazyPage(() => import('./pages/admin/Logs'))
const AdminData = lazyPage(() => import('./pages/admin/Data'))

const BY_PATH: Record<string, { preload: () => Promise<unknown> }> = {
  '': Conversations,
  search: Search,
  import: Import,
  people: People,
  circles: Circles,
  groups: Groups,
  teams: Groups,
  shares: Shares,
  open: OpenLink,
  feed: Feed,
  requests: Requests,
  memories: Memories,
  context: ContextPage,
  settings: Settings,
  admin: AdminStatus,
  'admin/metrics': AdminMetrics,
  'admin/network': AdminNetwork,
  'admin/logs': AdminLogs,
  'admin/data': AdminData,
}

/** Loads the chunk of the page at `pathname` (to render it without a Suspense fallback). */
export function preloadPage(pathname: string): Promise<unknown> {
  const parts = pathname.split('/').filter(Boolean)
  if (parts[0] === 'c' && parts.length === 2) return Reader.preload()
  const key = parts.join('/')
  const page = parts.length <= 2 && Object.hasOwn(BY_PATH, key) ? BY_PATH[key] : undefined
  return (page ?? NotFound).preload()
}

export function useToken(): string | null {
  return useSyncExternalStore(onTokenChange, getToken)
}

export function AppRoutes() {
  return (
    <Suspense fallback={<Skeleton variant="page" />}>
      <Routes>
        <Route path="/" element={<Conversations />} />
        <Route path="/c/:id" element={<Reader />} />
        <Route path="/search" element={<Search />} />
        <Route path="/import" element={<Import />} />
        <Route path="/people" element={<People />} />
        <Route path="/circles" element={<Circles />} />
        <Route path="/groups" element={<Groups kind="group" />} />
        <Route path="/teams" element={<Groups kind="team" />} />
        <Route path="/shares" element={<Shares />} />
        <Route path="/open" element={<OpenLink />} />
        <Route path="/feed" element={<Feed />} />
        <Route path="/requests" element={<Requests />} />
        <Route path="/memories" element={<Memories />} />
        <Route path="/context" element={<ContextPage />} />
        <Route path="/settings" element={<Settings />} />
        <Route path="/admin" element={<AdminStatus />} />
        <Route path="/admin/metrics" element={<AdminMetrics />} />
        <Route path="/admin/network" element={<AdminNetwork />} />
        <Route path="/admin/logs" element={<AdminLogs />} />
        <Route path="/admin/data" element={<AdminData />} />
        <Route path="*" element={<NotFound />} />
      </Routes>
    </Suspense>
  )
}

/** Without a token only the connect screen shows: nothing of the user's data. */
export function Gate() {
  const token = useToken()
  const [, force] = useState(0)
  useEffect(() => onTokenChange(() => force((x) => x + 1)), [])
  useEffect(() => {
    // The reader is where the list leads: have its chunk ready before the first click.
    if (!token) return
    const idle = typeof requestIdleCallback === 'function' ? requestIdleCallback : (f: () => void) => setTimeout(f, 1000)
    idle(() => void Reader.preload())
  }, [token])
  if (!token) return <Connect />
  return (
    <Shell>
      <AppRoutes />
    </Shell>
  )
}

export function App() {
  return (
    <BrowserRouter>
      <Gate />
    </BrowserRouter>
  )
}
