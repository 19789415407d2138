// VIVIM's wasm package (bindings/wasm) in the browser: checks signatures and opens share links
// here, so what the app shows does not rest on the word of the server that sent it, and a share
// link's key never has to leave the browser.
//
// The gateway serves the package's browser build at /wasm/ when the node was built with it
// (VIVIM_WASM_PKG, from bindings/wasm/build.sh); otherwise those paths answer 404 or the app's
// index.html, and `loadWasm()` resolves to null ("not available here"). It never throws.
//
//   const w = await loadWasm()
//   if (w) w.decodeAcu(b64ToBytes(signed.acus[0])).author

/** A verified message (ACU), as `decodeAcu` and `openShare` give it. */
export interface AcuView {
  /** BLAKE3 hash of its signed bytes (hex): the id the API uses. */
  id: string
  conversation: string
  parent: string | null
  /** The DID whose signature verified. */
  author: string
  role: string
  kind: string
  /** Null when the body is sealed or binary. */
  text: string | null
  createdAtMs: number
}

/** A verified conversation manifest. */
export interface ManifestView {
  id: string
  title: string
  provider: string
  /** The owner, whose signature verified. */
  owner: string
  createdAtMs: number
  updatedAtMs: number
  messageCount: number
  head: string | null
}

/** A share link's public parts (never the key). */
export interface LinkView {
  payload: string
  from: string
  keyId: string
}

/** A share package opened in the browser: every record verified. */
export interface OpenedView {
  conversation: ManifestView
  messages: AcuView[]
}

/** The functions of the package the app uses. Each throws an Error when its input does not verify. */
export interface VivimWasm {
  verifyDid(did: string): string
  decodeAcu(bytes: Uint8Array): AcuView
  decodeManifest(bytes: Uint8Array): ManifestView
  parseShareLink(link: string): LinkView
  openShare(link: string, blobs: Uint8Array[]): OpenedView
}

export const WASM_JS = '/wasm/vivim_wasm.js'
export const WASM_BIN = '/wasm/vivim_wasm_bg.wasm'

let loading: Promise<VivimWasm | null> | null = null

async function load(): Promise<VivimWasm | null> {
  try {
    if (typeof WebAssembly === 'undefined') return null
    // A variable specifier: not bundled, fetched from the gateway at run time.
    const url = WASM_JS
    const mod = await import(/* @vite-ignore */ url)
    const names = ['default', 'verifyDid', 'decodeAcu', 'decodeManifest', 'parseShareLink', 'openShare'] as const
    if (!mod || names.some((n) => typeof mod[n] !== 'function')) return null
    await mod.default({ module_or_path: WASM_BIN })
    return {
      verifyDid: mod.verifyDid,
      decodeAcu: mod.decodeAcu,
      decodeManifest: mod.decodeManifest,
      parseShareLink: mod.parseShareLink,
      openShare: mod.openShare,
    }
  } catch {
    return null
  }
}

/** The package, loaded once (on first use); null when this node does not serve it or the browser cannot run it. */
export function loadWasm(): Promise<VivimWasm | null> {
  return (loading ??= load().catch(() => null))
}

/** Tests only: what `loadWasm()` resolves to from now on (`undefined`: load it again for real). */
export function setWasmForTests(w: VivimWasm | null | undefined): void {
  loading = w === undefined ? null : Promise.resolve(w)
}

/** Standard base64 (as the API sends bytes) to bytes. */
export function b64ToBytes(s: string): Uint8Array {
  const U = Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }
  if (typeof U.fromBase64 === 'function') return U.fromBase64(s)
  const bin = atob(s)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** `did:key:z6Mk…` plus the last 6 characters: short, yet tells two keys apart. */
export function shortDid(did: string): string {
  return did.length > 24 ? `${did.slice(0, 12)}…${did.slice(-6)}` : did
}
