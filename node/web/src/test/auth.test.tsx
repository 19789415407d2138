import { act, render, screen, waitFor } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import { describe, expect, it } from 'vitest'
import { captureTokenFromHash, getToken, setToken, TOKEN_KEY } from '../auth'
import { Gate } from '../App'
import { client, ok } from '../api/client'
import { json, mockFetch } from './helpers'

describe('token handling', () => {
  it('stores #token= and strips it from the address', () => {
    history.replaceState(null, '', '/search?q=x#token=abc123')
    expect(captureTokenFromHash()).toBe(true)
    expect(localStorage.getItem(TOKEN_KEY)).toBe('abc123')
    expect(location.hash).toBe('')
    expect(location.pathname + location.search).toBe('/search?q=x')
  })

  it('shows the connect screen without a token', () => {
    mockFetch(() => json({}))
    render(
      <MemoryRouter>
        <Gate />
      </MemoryRouter>,
    )
    expect(screen.getByRole('heading', { level: 1, name: 'Connect to your node' })).toBeTruthy()
    expect(screen.getByLabelText('Gateway token')).toBeTruthy()
    expect(screen.getByRole('button', { name: 'Connect' })).toBeTruthy()
  })

  it('verifies the token and shows an error on 401', async () => {
    mockFetch((u) => (u.pathname === '/api/v1/identity' ? json({ error: { code: 'unauthorized', message: 'bad token' } }, 401) : undefined))
    render(
      <MemoryRouter>
        <Gate />
      </MemoryRouter>,
    )
    const input = screen.getByLabelText('Gateway token') as HTMLInputElement
    await act(async () => {
      input.focus()
    })
    const { fireEvent } = await import('@testing-library/react')
    fireEvent.change(input, { target: { value: 'nope' } })
    fireEvent.click(screen.getByRole('button', { name: 'Connect' }))
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('refused'))
    expect(getToken()).toBeNull()
  })

  it('a 401 from the API forgets the token and goes back to the connect screen', async () => {
    setToken('old')
    mockFetch((u) => {
      if (u.pathname === '/api/health') return json({ ok: true })
      return json({ error: { code: 'unauthorized', message: 'bad token' } }, 401)
    })
    render(
      <MemoryRouter>
        <Gate />
      </MemoryRouter>,
    )
    await act(async () => {
      await ok(client.GET('/api/v1/identity')).catch(() => {})
    })
    await waitFor(() => expect(screen.getByRole('heading', { level: 1, name: 'Connect to your node' })).toBeTruthy())
    expect(getToken()).toBeNull()
  })
})
