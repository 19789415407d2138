// qrcode-generator ships an ESM build exporting a named `qrcode` (what Vite bundles) and a CommonJS
// build whose export is the function itself (what Node loads under vitest): accept either.
import * as qrModule from 'qrcode-generator'
import type qrcodeType from 'qrcode-generator'

type Factory = typeof qrcodeType
const mod = qrModule as unknown as Factory & { qrcode?: Factory; default?: Factory }

export const qrcode: Factory = typeof mod.qrcode === 'function' ? mod.qrcode : typeof mod.default === 'function' ? mod.default : mod
