// A real Yjs client: connects to a VIVIM node's /api/yjs/<doc> with y-websocket, prints what it
// reads, optionally writes, and exits.
//   node yjs_client.mjs <ws base, e.g. ws://127.0.0.1:7777/api/yjs> <doc id> <token> [<did to add> <new name>]
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [base, docId, token, addDid, newName] = process.argv.slice(2)
const fail = (msg) => { console.error(msg); process.exit(1) }
setTimeout(() => fail('timed out'), 20000)

const doc = new Y.Doc()
const provider = new WebsocketProvider(base, docId, doc, {
  params: { token },
  WebSocketPolyfill: WebSocket,
  disableBc: true
})
provider.on('connection-error', (e) => fail(`connection error: ${e?.message ?? e}`))

await new Promise((resolve) => provider.on('sync', (synced) => synced && resolve()))

const members = doc.getMap('members')
const meta = doc.getMap('meta')
const read = {
  name: meta.get('name'),
  visibility: meta.get('visibility'),
  members: Object.fromEntries([...members.entries()].map(([did, m]) => [did, m.role]))
}

if (addDid) {
  doc.transact(() => {
    members.set(addDid, { role: 'member', added: Date.now() })
    meta.set('name', newName)
  })
  // Let the update leave before closing.
  await new Promise((resolve) => setTimeout(resolve, 300))
  while (provider.ws && provider.ws.bufferedAmount > 0) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
console.log(JSON.stringify(read))
provider.destroy()
process.exit(0)
