// Opening a share link with the wasm package in Node.js: the running node hands over the
// package still sealed (GET /api/v2/sealed/<payload>?from=<did>), and the key in the link
// decrypts it here; every record's signature is checked in WebAssembly.
//   bindings/wasm/build.sh && node examples/wasm_open_link.mjs 'vivim://share/…#…'
//   (VIVIM_DATA_DIR: the running node's data dir, default ~/.local/share/vivim;
//    VIVIM_WASM_PKG: the package's node build, default ~/.cache/vivim-target/wasm-pkg/node)
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'

const link = process.argv[2]
if (!link) throw new Error('usage: node examples/wasm_open_link.mjs <vivim://share/… link>')
const dir = process.env.VIVIM_DATA_DIR || join(homedir(), '.local/share/vivim')
const pkg = process.env.VIVIM_WASM_PKG || join(homedir(), '.cache/vivim-target/wasm-pkg/node')
const wasm = createRequire(import.meta.url)(join(pkg, 'vivim_wasm.js'))

const { payload, from } = wasm.parseShareLink(link)
const base = `http://${readFileSync(join(dir, 'gateway.addr'), 'utf8').trim()}`
const token = readFileSync(join(dir, 'token'), 'utf8').trim()
const r = await fetch(`${base}/api/v2/sealed/${payload}?from=${encodeURIComponent(from)}`, {
  headers: { authorization: `Bearer ${token}` }
})
if (!r.ok) throw new Error(`the node could not get the package: ${r.status} ${await r.text()}`)
const sealed = await r.json()
const blobs = sealed.blobs.map((b) => new Uint8Array(Buffer.from(b, 'base64')))
const { conversation, messages } = wasm.openShare(link, blobs)
console.log(`${conversation.title} — by ${conversation.owner} (${messages.length} messages, every signature verified; package from ${sealed.source})`)
for (const m of messages.slice(0, 10)) console.log(`  [${m.role}] ${(m.text ?? '').slice(0, 100)}`)
