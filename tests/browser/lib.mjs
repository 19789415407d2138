// Shared helpers for the browser tests (run.mjs) and the browser benchmark (bench.mjs):
// configuration from the environment, `vivim` processes on 127.0.0.1, the app URL of a node,
// and a headless Debian chromium driven by playwright-core. Nothing here contacts any host
// other than 127.0.0.1.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const VIVIM_BIN =
  process.env.VIVIM_BIN ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'vivim-target'), 'debug', 'vivim');
export const SHARED = path.resolve(process.env.SHARED || path.join(REPO, '..', 'shared'));
export const OUT = path.resolve(process.env.VIVIM_BROWSER_OUT || path.join(HERE, 'out'));
export const CHROMIUM = process.env.VIVIM_CHROMIUM || '/usr/bin/chromium';
// Dev override: the app is served by a dev server (vite / vite preview) at this URL, whose proxy
// forwards /api to VIVIM_GATEWAY (host:port). Node A is then started on that gateway address.
export const APP_URL_OVERRIDE = process.env.VIVIM_APP_URL || '';
// Fallback before the binary serves the app itself: serve this built app folder from a small
// static server + /api proxy in this process (one per node), see `appServer`.
export const WEB_DIST = process.env.VIVIM_WEB_DIST || path.join(REPO, 'node', 'web', 'dist');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const children = new Set();
const servers = new Set();
const tmpDirs = new Set();

/** Kills every process this run started and closes its servers. Safe to call twice. */
export function cleanup() {
  for (const c of children) {
    try {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    } catch {}
  }
  children.clear();
  for (const s of servers) {
    try {
      s.close();
      for (const sock of s.sockets || []) sock.destroy();
      s.closeAllConnections?.();
    } catch {}
  }
  servers.clear();
  if (!process.env.VIVIM_BROWSER_KEEP) {
    for (const d of tmpDirs) {
      try {
        fs.rmSync(d, { recursive: true, force: true });
      } catch {}
    }
  }
  tmpDirs.clear();
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

export function tempDir(prefix = 'vivim-browser-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(d);
  return d;
}

/** Runs one `vivim` command on a data dir; returns stdout (throws with stderr on failure). */
export function vivim(dir, args, opts = {}) {
  try {
    return execFileSync(VIVIM_BIN, args, {
      env: { ...process.env, VIVIM_DATA_DIR: dir },
      encoding: 'utf8',
      maxBuffer: 256 << 20,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeout ?? 120_000,
    });
  } catch (e) {
    throw new Error(`vivim ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

export function binaryHas(subcommand, flag) {
  try {
    return execFileSync(VIVIM_BIN, [...subcommand, '--help'], { encoding: 'utf8' }).includes(flag);
  } catch {
    return false;
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts `vivim up` (or `relay`) on loopback only, the way node/tests/common/mod.rs does:
 * libp2p on 127.0.0.1 TCP, iroh on 127.0.0.1, no mDNS; `bootstrap` is a relay's address.
 * Returns { dir, proc, gw, token, did, appUrl, stop() }.
 */
export async function startNode(dir, { cmd = 'up', bootstrap, gateway, noNetwork = false, webDir, log } = {}) {
  try {
    fs.rmSync(path.join(dir, 'gateway.addr'), { force: true });
  } catch {}
  const args = ['--data-dir', dir, cmd, '--gateway', gateway || `127.0.0.1:${await freePort()}`];
  if (noNetwork) args.push('--no-network');
  else {
    args.push('--listen', '/ip4/127.0.0.1/tcp/0', '--iroh-bind', '127.0.0.1:0', '--no-mdns');
    if (bootstrap) args.push('--bootstrap', bootstrap);
    if (cmd === 'relay') args.push('--iroh-relay-bind', '127.0.0.1:0');
  }
  if (webDir) args.push('--web-dir', webDir);
  const logFile = log || path.join(dir, `${cmd}.log`);
  const fd = fs.openSync(logFile, 'a');
  const proc = spawn(VIVIM_BIN, args, {
    env: { ...process.env, VIVIM_DATA_DIR: dir, RUST_LOG: process.env.RUST_LOG || 'warn' },
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  children.add(proc);
  const deadline = Date.now() + 90_000;
  let gw = '';
  while (!gw) {
    if (proc.exitCode !== null) throw new Error(`vivim ${cmd} exited (${proc.exitCode}); log ${logFile}:\n${tail(logFile)}`);
    if (Date.now() > deadline) throw new Error(`vivim ${cmd} did not start; log ${logFile}:\n${tail(logFile)}`);
    try {
      gw = fs.readFileSync(path.join(dir, 'gateway.addr'), 'utf8').trim();
    } catch {}
    if (!gw) await sleep(100);
  }
  const token = fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
  const node = {
    dir,
    proc,
    gw,
    token,
    logFile,
    appServer: null,
    async stop() {
      if (node.appServer) {
        const srv = node.appServer;
        node.appServer = null;
        servers.delete(srv);
        srv.close();
        for (const s of srv.sockets || []) s.destroy();
        srv.closeAllConnections?.();
      }
      if (proc.exitCode === null && proc.signalCode === null) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await done;
        clearTimeout(t);
      }
      children.delete(proc);
    },
  };
  // Wait until the REST API answers.
  while (true) {
    try {
      const r = await api(node, '/api/v1/identity');
      node.did = r.did;
      node.identity = r;
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(200);
    }
  }
  return node;
}

function tail(file, n = 30) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** A fresh data dir with an identity. */
export function initNode(name, parent) {
  const dir = path.join(parent, name);
  vivim(dir, ['--data-dir', dir, 'init']);
  return dir;
}

/** Calls the node's REST API with its token; parses JSON; throws on non-2xx. */
export async function api(node, p, { method = 'GET', body, headers = {}, raw = false, timeout = 30_000 } = {}) {
  const h = { Authorization: `Bearer ${node.token}`, ...headers };
  let b = body;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    b = JSON.stringify(body);
    h['Content-Type'] = 'application/json';
  }
  const r = await fetch(`http://${node.gw}${p}`, { method, headers: h, body: b, signal: AbortSignal.timeout(timeout) });
  if (raw) return r;
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/** Polls f until it returns a truthy value (or throws after `ms`). */
export async function eventually(what, f, ms = 30_000, every = 250) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(every);
  }
  throw new Error(`timed out: ${what}${last ? ` (last error: ${last.message})` : ''}`);
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Fallback app server for one node (only while the binary cannot serve the app): serves
 * `distDir` with an SPA fallback to index.html and proxies /api (HTTP and WebSocket upgrades)
 * to the node's gateway. Stopping the node closes it too, so "node stopped" means "nothing
 * answers on the app's origin", as in the final setup.
 */
let distSnapshot = null;
export async function appServer(node, distDir) {
  if (!distDir) {
    // A copy, so a rebuild of node/web during the run does not pull files from under it.
    if (!distSnapshot) {
      if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) throw new Error(`no built app in ${WEB_DIST}`);
      distSnapshot = path.join(tempDir('vivim-web-dist-'), 'dist');
      fs.cpSync(WEB_DIST, distSnapshot, { recursive: true });
    }
    distDir = distSnapshot;
  }
  const [gwHost, gwPort] = node.gw.split(':');
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/api')) {
      const up = http.request(
        { host: gwHost, port: gwPort, path: req.url, method: req.method, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(up);
      return;
    }
    const u = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let f = path.join(distDir, path.normalize(u).replace(/^(\.\.[/\\])+/, ''));
    if (!f.startsWith(distDir) || !fs.existsSync(f) || fs.statSync(f).isDirectory()) f = path.join(distDir, 'index.html');
    res.writeHead(200, {
      'Content-Type': MIME[path.extname(f)] || 'application/octet-stream',
      'Cache-Control': f.endsWith('index.html') || f.endsWith('sw.js') ? 'no-cache' : 'public, max-age=31536000',
    });
    fs.createReadStream(f).pipe(res);
  });
  // Every socket, also the upgraded (WebSocket) ones, so stopping the node cuts them all.
  server.sockets = new Set();
  server.on('connection', (sock) => {
    server.sockets.add(sock);
    sock.on('close', () => server.sockets.delete(sock));
  });
  server.on('upgrade', (req, socket, head) => {
    const up = net.connect(Number(gwPort), gwHost, () => {
      up.write(
        `${req.method} ${req.url} HTTP/1.1\r\n` +
          Object.entries(req.headers)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\r\n') +
          '\r\n\r\n',
      );
      if (head?.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  servers.add(server);
  node.appServer = server;
  return `http://127.0.0.1:${server.address().port}`;
}

/**
 * Where the app of `node` is reached. Final mode: the gateway serves it
 * (`http://<gateway>`). Before that: VIVIM_APP_URL for node A, or the fallback server.
 */
export let APP_MODE = 'gateway';
export async function appUrl(node, { first = false } = {}) {
  if (APP_URL_OVERRIDE && first) {
    APP_MODE = 'override';
    return APP_URL_OVERRIDE.replace(/\/$/, '');
  }
  if (process.env.VIVIM_WEB_FALLBACK === '1') {
    APP_MODE = 'fallback';
    return appServer(node);
  }
  return `http://${node.gw}`;
}

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--metrics-recording-only',
  '--no-default-browser-check',
];

/** Debian chromium through playwright-core; each newContext() is a fresh profile. */
export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** A ChatGPT-format export (the shape of shared/fixtures/chatgpt-export-2023) of `n` small
 * conversations with `msgs` alternating user/assistant messages each. Streams to `file`. */
export async function writeChatgptExport(file, n, msgs = 2, { titlePrefix = 'Bench conversation', words = 12, idSeed = 0, baseTime = 1_700_000_000 } = {}) {
  const out = fs.createWriteStream(file);
  const write = (s) => (out.write(s) ? null : new Promise((r) => out.once('drain', r)));
  const vocab = 'alpha borrow checker lifetime vector index rust tokio async await cache query plan schema migrate render layout'.split(' ');
  const base = baseTime;
  await write('[');
  for (let i = 0; i < n; i++) {
    const mapping = { root: { id: 'root', message: null, parent: null, children: [] } };
    let parent = 'root';
    const t0 = base + i * 60;
    for (let m = 0; m < msgs; m++) {
      const id = `s${idSeed}-c${i}-m${m}`;
      const role = m % 2 === 0 ? 'user' : 'assistant';
      const text = Array.from({ length: words }, (_, k) => vocab[(i * 7 + m * 3 + k) % vocab.length]).join(' ') + ` #${i}.${m}`;
      mapping[id] = {
        id,
        message: {
          id,
          author: { role, name: null, metadata: {} },
          create_time: t0 + m,
          update_time: null,
          content: { content_type: 'text', parts: [text] },
          status: 'finished_successfully',
          end_turn: true,
          weight: 1.0,
          metadata: {},
          recipient: 'all',
        },
        parent,
        children: [],
      };
      mapping[parent].children.push(id);
      parent = id;
    }
    const conv = {
      title: `${titlePrefix} ${i}`,
      create_time: t0,
      update_time: t0 + msgs,
      mapping,
      moderation_results: [],
      current_node: parent,
      plugin_ids: null,
      id: `${String(idSeed).padStart(8, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`,
    };
    const p = write((i ? ',' : '') + JSON.stringify(conv));
    if (p) await p;
  }
  await write(']');
  await new Promise((r) => out.end(r));
}
