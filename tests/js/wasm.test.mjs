// The wasm package (bindings/wasm, built by .ci/bindings with wasm-bindgen --target nodejs)
// against a real node: a link share made by `vivim` opens in wasm with the link's key, every
// record verifies, a tampered ACU or blob is refused, and a circle read by a real Yjs client
// reads the same in yrs-in-wasm.
//   VIVIM_BIN=… VIVIM_WASM_PKG=… node --test tests/js/wasm.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..', '..')
const bin = process.env.VIVIM_BIN
const pkg = process.env.VIVIM_WASM_PKG
if (!bin || !pkg) throw new Error('set VIVIM_BIN and VIVIM_WASM_PKG')
const wasm = createRequire(import.meta.url)(join(resolve(pkg), 'vivim_wasm.js'))

let dir, proc, base, token, did
const api = async (method, path, body) => {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await r.text()
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`)
  return text ? JSON.parse(text) : null
}
const bytes = (b64) => new Uint8Array(Buffer.from(b64, 'base64'))

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vivim-wasm-'))
  const env = { ...process.env, VIVIM_DATA_DIR: dir }
  execFileSync(bin, ['init'], { env, stdio: 'ignore' })
  execFileSync(bin, ['import', join(repo, 'node/tests/fixtures/import/chatgpt_small.json')], { env, stdio: 'ignore' })
  proc = spawn(bin, ['up', '--gateway', '127.0.0.1:0', '--no-network'], { env, stdio: 'ignore' })
  const addrFile = join(dir, 'gateway.addr')
  const deadline = Date.now() + 60000
  while (!(existsSync(addrFile) && readFileSync(addrFile, 'utf8').trim())) {
    if (Date.now() > deadline) throw new Error('vivim up did not start')
    await new Promise((r) => setTimeout(r, 50))
  }
  base = `http://${readFileSync(addrFile, 'utf8').trim()}`
  token = readFileSync(join(dir, 'token'), 'utf8').trim()
  did = (await api('GET', '/api/admin/status')).did
})

after(() => {
  proc?.kill('SIGTERM')
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test('a did:key verifies and gives its ed25519 key; a mangled one throws', () => {
  const key = wasm.verifyDid(did)
  assert.match(key, /^[0-9a-f]{64}$/)
  assert.throws(() => wasm.verifyDid(did.slice(0, -2) + '00'), /base58|character/i)
  assert.throws(() => wasm.verifyDid(did.slice(0, 20)))
  assert.throws(() => wasm.verifyDid('did:web:example.com'))
})

test('a link share made by the node opens in wasm, every record verified', async () => {
  const convs = (await api('GET', '/api/v1/conversations?limit=50')).items
  const conv = convs.reduce((a, b) => (b.message_count > a.message_count ? b : a))
  const share = await api('POST', '/api/v2/shares', { content: conv.id, link: true })
  const link = share.link
  const parsed = wasm.parseShareLink(link)
  assert.equal(parsed.from, did)
  assert.match(parsed.payload, /^[0-9a-f]{64}$/)
  assert.ok(!JSON.stringify(parsed).includes(link.split('#')[1]), 'the key stays inside')

  const pkg = await api('GET', `/api/v2/sealed/${parsed.payload}`)
  assert.equal(pkg.source, 'local')
  const blobs = pkg.blobs.map(bytes)
  const opened = wasm.openShare(link, blobs)
  assert.equal(opened.conversation.id, conv.id)
  assert.equal(opened.conversation.owner, did)
  assert.equal(opened.conversation.title, conv.title)
  const detail = await api('GET', `/api/v1/conversations/${conv.id}`)
  const inPackage = new Map(opened.messages.map((m) => [m.id, m]))
  for (const m of detail.messages) {
    const w = inPackage.get(m.id)
    assert.ok(w, `message ${m.id} is in the package`)
    assert.equal(w.text ?? null, m.text ?? null)
    assert.equal(w.author, did)
    assert.equal(w.role, m.role)
  }

  // Step by step: a blob, its records, the first record is the manifest.
  const records = wasm.unpackRecords(wasm.openSealedBlob(link, blobs[0]))
  assert.equal(wasm.decodeManifest(records[0]).id, conv.id)

  // A flipped byte in a sealed blob, or another key in the link: refused.
  const bad = blobs.map((b) => b.slice())
  bad[0][bad[0].length - 5] ^= 1
  assert.throws(() => wasm.openShare(link, bad))
  const otherKey = link.replace(/#.*/, '#' + '11'.repeat(32))
  assert.throws(() => wasm.openShare(otherKey, blobs))
})

test('signed ACUs from the node verify; a tampered one is refused', async () => {
  const convs = (await api('GET', '/api/v1/conversations?limit=1')).items
  const signed = await api('GET', `/api/v2/conversations/${convs[0].id}/signed`)
  assert.equal(wasm.decodeManifest(bytes(signed.manifest)).owner, did)
  assert.ok(signed.acus.length > 0)
  let withText = null
  for (const a of signed.acus) {
    const acu = wasm.decodeAcu(bytes(a))
    assert.equal(acu.author, did)
    assert.equal(acu.conversation, convs[0].id)
    if (acu.text && acu.text.length > 4) withText = { raw: bytes(a), acu }
  }
  assert.ok(withText, 'an ACU with text')
  // Change one letter of the text inside the signed bytes: the signature no longer verifies.
  const raw = withText.raw.slice()
  const needle = new TextEncoder().encode(withText.acu.text.slice(0, 4))
  let at = -1
  for (let i = 0; i + needle.length <= raw.length && at < 0; i++) {
    if (needle.every((b, j) => raw[i + j] === b)) at = i
  }
  assert.ok(at >= 0, 'the text is in the signed bytes')
  raw[at] ^= 0x20
  assert.throws(() => wasm.decodeAcu(raw), /signature|verify/i)
  assert.throws(() => wasm.decodeAcu(new Uint8Array([1, 2, 3])))
})

test('a circle synced by a real Yjs client reads the same in yrs-in-wasm', async () => {
  // A did:key from the did:key spec's test vectors as a second member.
  const friend = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'
  const circle = await api('POST', '/api/v2/circles', { name: 'Reading group', members: [friend] })
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(`${base.replace('http', 'ws')}/api/yjs`, circle.id, doc, {
    params: { token }, WebSocketPolyfill: WebSocket, disableBc: true
  })
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('yjs sync timed out')), 20000)
    provider.on('sync', (s) => { if (s) { clearTimeout(t); resolve() } })
  })
  const update = Y.encodeStateAsUpdate(doc)
  provider.awareness.destroy()
  provider.destroy()
  doc.destroy()
  const view = wasm.circleView(circle.id, [update])
  assert.equal(view.name, 'Reading group')
  assert.equal(view.name, doc.getMap('meta').get('name'))
  assert.deepEqual(Object.keys(view.members).sort(), circle.members.map((m) => m.did).sort())
  assert.ok(Object.keys(view.members).includes(friend))
  assert.throws(() => wasm.circleView(circle.id, [new Uint8Array([0, 1, 2, 3, 4])]))
})
