import { render, screen } from '@testing-library/react'
import { MemoryRouter } from 'react-router'
import { describe, expect, it } from 'vitest'
import { Button, Card, ErrorState, Input, Skeleton } from '../components'

describe('Button', () => {
  it('renders every variant and size', () => {
    for (const v of ['primary', 'secondary', 'ghost', 'destructive', 'tertiary'] as const)
      for (const s of ['sm', 'md', 'lg', 'xl'] as const) {
        const { unmount } = render(
          <Button variant={v} size={s}>
            Go
          </Button>,
        )
        const b = screen.getByRole('button', { name: 'Go' })
        expect(b.className).toContain(`btn-${v}`)
        expect(b.className).toContain(`btn-${s}`)
        unmount()
      }
  })
  it('loading disables and sets aria-busy', () => {
    render(<Button loading>Save</Button>)
    const b = screen.getByRole('button', { name: 'Save' })
    expect(b).toHaveProperty('disabled', true)
    expect(b.getAttribute('aria-busy')).toBe('true')
    expect(b.querySelector('.spinner')).not.toBeNull()
  })
})

describe('Input', () => {
  it('wires label, error and helper text', () => {
    render(<Input label="Gateway token" error="Wrong token" helperText="From vivim token" />)
    const input = screen.getByLabelText('Gateway token')
    expect(input.getAttribute('aria-invalid')).toBe('true')
    const ids = (input.getAttribute('aria-describedby') ?? '').split(' ')
    const texts = ids.map((id) => document.getElementById(id)?.textContent)
    expect(texts).toContain('Wrong token')
    expect(texts).toContain('From vivim token')
  })
  it('is not invalid without an error', () => {
    render(<Input label="Name" />)
    expect(screen.getByLabelText('Name').getAttribute('aria-invalid')).toBeNull()
  })
})

describe('Card', () => {
  it('clickable card is a button or a link', () => {
    render(
      <MemoryRouter>
        <Card onClick={() => {}}>A</Card>
        <Card to="/x">B</Card>
        <Card variant="glass">C</Card>
      </MemoryRouter>,
    )
    expect(screen.getByRole('button', { name: 'A' })).toBeTruthy()
    expect(screen.getByRole('link', { name: 'B' }).getAttribute('href')).toBe('/x')
    expect(screen.getByText('C').getAttribute('data-variant')).toBe('glass')
  })
})

describe('ErrorState and Skeleton', () => {
  it('network error says the node is offline and offers retry', () => {
    let n = 0
    render(<ErrorState kind="network" onRetry={() => n++} />)
    expect(screen.getByRole('alert').textContent).toContain('Your node is offline; this page will load when it is back')
    screen.getByRole('button', { name: 'Try again' }).click()
    expect(n).toBe(1)
  })
  it('skeletons are aria-busy', () => {
    for (const v of ['page', 'conversation', 'detail', 'table'] as const) {
      const { container, unmount } = render(<Skeleton variant={v} />)
      expect(container.querySelector('[aria-busy="true"]')).not.toBeNull()
      unmount()
    }
  })
})
