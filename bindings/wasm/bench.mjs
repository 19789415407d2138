// The wasm package's verification rate on the records bench_verify_native wrote (the native
// anchor prints its own rate), and the package's size.
//   node bindings/wasm/bench.mjs <records.bin> <wasm package dir (nodejs target)>
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'

const [file, pkg] = process.argv.slice(2)
const wasm = createRequire(import.meta.url)(join(resolve(pkg), 'vivim_wasm.js'))
const buf = readFileSync(file)
const records = []
for (let at = 0; at < buf.length;) {
  const n = buf.readUInt32LE(at)
  records.push(new Uint8Array(buf.buffer, buf.byteOffset + at + 4, n))
  at += 4 + n
}
let best = Infinity
for (let pass = 0; pass < 3; pass++) {
  const t = process.hrtime.bigint()
  for (const r of records) wasm.decodeAcu(r)
  best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9)
}
const size = readFileSync(join(pkg, 'vivim_wasm_bg.wasm'))
const glue = readFileSync(join(pkg, 'vivim_wasm.js'))
console.log(`wasm:   ${records.length} signed ACUs decoded and verified in ${(best * 1000).toFixed(1)} ms: ${Math.round(records.length / best)} ACUs/s (Node.js ${process.version})`)
console.log(`wasm package: ${size.length} bytes of wasm + ${glue.length} of JS; ${gzipSync(size, { level: 9 }).length + gzipSync(glue, { level: 9 }).length} bytes gzipped (goal <= 1 MiB)`)
