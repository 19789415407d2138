import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { captureTokenFromHash } from './auth'
import { App, preloadPage } from './App'
import './styles.css'

captureTokenFromHash()

// The first page's chunk is fetched before the first render (capped, so a slow network still
// gets the shell), so the page renders at once instead of after a Suspense fallback.
let started = false
function start() {
  if (started) return
  started = true
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <App />
    </StrictMode>,
  )
}
void preloadPage(location.pathname).then(start, start)
setTimeout(start, 800)

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  void import('virtual:pwa-register').then(({ registerSW }) => registerSW({ immediate: true }))
}
