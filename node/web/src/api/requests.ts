// Message requests: what people this node does not know sent (/api/v3/requests), and the number
// still pending, shared by the Requests page and the nav badge.
import { useSyncExternalStore } from 'react'
import { client, ok } from './client'
import type { RequestView } from './types'

export type RequestAction = 'accept' | 'ignore' | 'block'

export const fetchRequests = (): Promise<RequestView[]> => ok(client.GET('/api/v3/requests'))

export const decideRequest = (did: string, action: RequestAction) =>
  ok(client.POST('/api/v3/requests/{did}/{action}', { params: { path: { did, action } } }))

let count = 0
// Bumped by every update, so a refresh that was overtaken (the page already knows better) is dropped.
let seq = 0
const subs = new Set<() => void>()

/** The number of pending requests, as the Requests page last saw it. */
export function setRequestCount(n: number) {
  seq++
  if (n === count) return
  count = n
  for (const s of subs) s()
}

/** Asks the node how many requests are pending; keeps the old count when it does not answer. */
export async function refreshRequestCount(): Promise<void> {
  const mine = ++seq
  try {
    const list = await fetchRequests()
    if (mine === seq) setRequestCount(list.length)
  } catch {
    // The badge is a hint: the Requests page shows the error.
  }
}

export function useRequestCount(): number {
  return useSyncExternalStore(
    (cb) => {
      subs.add(cb)
      return () => subs.delete(cb)
    },
    () => count,
  )
}
