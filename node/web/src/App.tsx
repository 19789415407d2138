import { lazy, Suspense, useEffect, useState, useSyncExternalStore } from 'react'
import { BrowserRouter, Route, Routes } from 'react-router'
import { getToken, onTokenChange } from './auth'
import { Connect } from './pages/Connect'
import { Shell } from './Shell'
import { Skeleton } from './components'

const Conversations = lazy(() => import('./pages/Conversations'))
const Reader = lazy(() => import('./pages/Reader'))
const Search = lazy(() => import('./pages/Search'))
const Import = lazy(() => import('./pages/Import'))
const People = lazy(() => import('./pages/People'))
const Circles = lazy(() => import('./pages/Circles'))
const Groups = lazy(() => import('./pages/Groups'))
const Shares = lazy(() => import('./pages/Shares'))
const Feed = lazy(() => import('./pages/Feed'))
const Memories = lazy(() => import('./pages/Memories'))
const ContextPage = lazy(() => import('./pages/Context'))
const Settings = lazy(() => import('./pages/Settings'))
const NotFound = lazy(() => import('./pages/NotFound'))

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
        <Route path="/feed" element={<Feed />} />
        <Route path="/memories" element={<Memories />} />
        <Route path="/context" element={<ContextPage />} />
        <Route path="/settings" element={<Settings />} />
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
