import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { captureTokenFromHash } from './auth'
import { App } from './App'
import './styles.css'

captureTokenFromHash()

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
)

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  void import('virtual:pwa-register').then(({ registerSW }) => registerSW({ immediate: true }))
}
