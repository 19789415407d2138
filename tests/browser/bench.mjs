// Browser benchmark of the VIVIM web app against the real `vivim` binary (not a test: it prints
// figures and a table of goals, and exits 0 unless something could not be measured at all).
//
//   node tests/browser/bench.mjs            # everything
//   node tests/browser/bench.mjs --prepare  # only build the cached 100k data dir
//
// Env: VIVIM_BIN, VIVIM_BENCH_DIR (default $HOME/.cache/vivim-bench-web), VIVIM_BENCH_N
// (default 100000 conversations), VIVIM_APP_URL / VIVIM_WEB_FALLBACK as for run.mjs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import * as L from './lib.mjs';

const N = Number(process.env.VIVIM_BENCH_N || 100_000);
const LONG = 2000;
const BENCH_DIR = path.resolve(process.env.VIVIM_BENCH_DIR || path.join(os.homedir(), '.cache', 'vivim-bench-web'));
const DATA = path.join(BENCH_DIR, `data-${N}`);
const MARK = path.join(DATA, 'bench-ready.json');
const LONG_TITLE = 'Bench long conversation';

// The long conversation is imported after the small ones with newer timestamps, so it is the
// newest: the first row of the list, found with one small request.
const LONG_VERSION = 2;
async function importLong(m) {
  const long = path.join(BENCH_DIR, `export-long-${LONG}-v${LONG_VERSION}.json`);
  if (!fs.existsSync(long))
    await L.writeChatgptExport(long, 1, LONG, { titlePrefix: LONG_TITLE, words: 40, idSeed: 2, baseTime: 1_700_000_000 + 60 * (N + 10) });
  const t = Date.now();
  console.log(L.vivim(DATA, ['--data-dir', DATA, 'import', long], { timeout: 3_600_000 }).trim());
  m.import_long_s = (Date.now() - t) / 1000;
  m.long_version = LONG_VERSION;
  fs.writeFileSync(MARK, JSON.stringify(m, null, 2));
}

async function prepare() {
  if (fs.existsSync(MARK)) {
    const m = JSON.parse(fs.readFileSync(MARK, 'utf8'));
    console.log(`data dir ${DATA}: reused (built ${m.built}; import of ${N} conversations took ${m.import_s.toFixed(1)} s)`);
    if (m.long_version !== LONG_VERSION) await importLong(m);
    return m;
  }
  fs.rmSync(DATA, { recursive: true, force: true });
  fs.mkdirSync(BENCH_DIR, { recursive: true });
  L.vivim(DATA, ['--data-dir', DATA, 'init']);
  const big = path.join(BENCH_DIR, `export-${N}.json`);
  let t = Date.now();
  if (!fs.existsSync(big)) await L.writeChatgptExport(big + '.tmp', N, 2).then(() => fs.renameSync(big + '.tmp', big));
  console.log(`generated the export in ${((Date.now() - t) / 1000).toFixed(1)} s (${(fs.statSync(big).size / 1e6).toFixed(1)} MB)`);
  t = Date.now();
  console.log(L.vivim(DATA, ['--data-dir', DATA, 'import', big], { timeout: 3_600_000 }).trim());
  const importS = (Date.now() - t) / 1000;
  const m = { built: new Date().toISOString(), n: N, import_s: importS, bin: L.VIVIM_BIN };
  fs.writeFileSync(MARK, JSON.stringify(m, null, 2));
  await importLong(m);
  console.log(`import of ${N} conversations (${2 * N} messages): ${importS.toFixed(1)} s; the ${LONG}-message one: ${m.import_long_s.toFixed(1)} s`);
  return m;
}

async function initialJs(appUrl) {
  const html = await (await fetch(appUrl + '/')).text();
  const urls = new Set();
  for (const m of html.matchAll(/<script\b[^>]*\btype=["']module["'][^>]*\bsrc=["']([^"']+)["']/g)) urls.add(m[1]);
  for (const m of html.matchAll(/<script\b[^>]*\bsrc=["']([^"']+)["'][^>]*\btype=["']module["']/g)) urls.add(m[1]);
  for (const m of html.matchAll(/<link\b[^>]*\brel=["']modulepreload["'][^>]*\bhref=["']([^"']+)["']/g)) urls.add(m[1]);
  for (const m of html.matchAll(/<link\b[^>]*\bhref=["']([^"']+)["'][^>]*\brel=["']modulepreload["']/g)) urls.add(m[1]);
  let raw = 0;
  let gz = 0;
  const files = [];
  for (const u of urls) {
    const buf = Buffer.from(await (await fetch(new URL(u, appUrl + '/'))).arrayBuffer());
    const g = zlib.gzipSync(buf, { level: 9 }).length;
    raw += buf.length;
    gz += g;
    files.push(`${u} ${(buf.length / 1024).toFixed(1)} KiB raw, ${(g / 1024).toFixed(1)} KiB gzip`);
  }
  return { raw, gz, files, count: urls.size };
}

const rows = [];
function row(figure, value, goal, pass) {
  rows.push({ figure, value, goal, result: pass === null ? '—' : pass ? 'pass' : 'MISS' });
}

async function main() {
  const meta = await prepare();
  if (process.argv.includes('--prepare')) return;
  row(`import ${N} conversations (CLI, once)`, `${meta.import_s.toFixed(1)} s`, '—', null);

  const node = await L.startNode(DATA, { noNetwork: true });
  const app = await L.appUrl(node, { first: true });
  console.log(`node ${node.gw}, app ${app} (${L.APP_MODE})`);
  const status = await L.api(node, '/api/admin/status').catch((e) => ({ error: e.message }));
  console.log(`node status at start: ${JSON.stringify(status).slice(0, 400)}`);

  // The first GET of the long conversation after `up` can be slow while the node starts its
  // embedding pass over the data dir: measured here, outside the browser figures.
  {
    const newest = await L.api(node, '/api/v1/conversations?limit=5');
    const id = newest.items.find((c) => (c.title || '').startsWith(LONG_TITLE))?.id;
    if (id) {
      const t = Date.now();
      await L.api(node, `/api/v1/conversations/${id}`, { timeout: 300_000 });
      const ms = Date.now() - t;
      const t2 = Date.now();
      await L.api(node, `/api/v1/conversations/${id}`, { timeout: 300_000 });
      console.log(`REST GET of the ${LONG}-message conversation: first after start ${ms} ms, then ${Date.now() - t2} ms`);
      row(`REST GET ${LONG}-msg conversation, first after \`up\` (then warm)`, `${ms} ms (${Date.now() - t2} ms)`, '—', null);
    }
  }
  const js = await initialJs(app);
  for (const f of js.files) console.log('  ' + f);
  row(`initial JS (${js.count} files, min+gzip -9)`, `${(js.gz / 1024).toFixed(1)} KiB`, '≤ 250 KiB', js.gz <= 250 * 1024);

  const browser = await L.launchBrowser();
  try {
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await ctx.addInitScript((t) => localStorage.setItem('vivim.token', t), node.token);
    const page = await ctx.newPage();
    const rowSel = 'a[href^="/c/"]';
    // Warm-up load (installs the service worker, fills HTTP caches), then measured loads.
    await page.goto(app + '/');
    await page.locator(rowSel).first().waitFor({ timeout: 60_000 });
    await page.waitForTimeout(1500);

    // First 50 rows: a viewport tall enough for 50 rows (a virtualized list renders what fits).
    await page.setViewportSize({ width: 1440, height: 6000 });
    const times = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      await page.goto(app + '/', { waitUntil: 'commit' });
      await page.waitForFunction(
        (sel) => {
          const vh = innerHeight;
          let n = 0;
          for (const a of document.querySelectorAll(sel)) {
            const r = a.getBoundingClientRect();
            if (r.height > 0 && r.bottom > 0 && r.top < vh) n++;
          }
          return n >= 50;
        },
        rowSel,
        { polling: 'raf', timeout: 60_000 },
      );
      times.push(Date.now() - t0);
    }
    const rowsMs = median(times);
    console.log(`first 50 rows visible, navigation → 50 rows in the viewport: ${times.join(', ')} ms`);
    row(`navigation → first 50 rows visible (${N} convs, median of 3)`, `${rowsMs} ms`, '≤ 1000 ms', rowsMs <= 1000);

    // Scrolling frame rate in the list.
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(app + '/');
    await page.locator(rowSel).first().waitFor();
    await page.waitForTimeout(500);
    const fps = await page.evaluate(async (sel) => {
      const row = document.querySelector(sel);
      let el = row;
      while (el && el !== document.body) {
        const s = getComputedStyle(el);
        if (/(auto|scroll)/.test(s.overflowY) && el.scrollHeight > el.clientHeight + 10) break;
        el = el.parentElement;
      }
      const scroller = el && el !== document.body ? el : document.scrollingElement;
      const start = performance.now();
      let frames = 0;
      let worst = 0;
      let last = start;
      await new Promise((resolve) => {
        function step(now) {
          frames++;
          worst = Math.max(worst, now - last);
          last = now;
          scroller.scrollTop += 120;
          if (now - start < 2000) requestAnimationFrame(step);
          else resolve();
        }
        requestAnimationFrame(step);
      });
      const secs = (performance.now() - start) / 1000;
      return { fps: frames / secs, worst, scrolled: scroller.scrollTop, rows: document.querySelectorAll(sel).length, tag: scroller.tagName };
    }, rowSel);
    console.log(`scroll: ${fps.fps.toFixed(1)} fps, worst frame ${fps.worst.toFixed(1)} ms, scrolled ${fps.scrolled}px in <${fps.tag.toLowerCase()}>, ${fps.rows} rows in the DOM`);
    row('list scrolling, 120 px per frame for 2 s', `${fps.fps.toFixed(1)} fps (worst ${fps.worst.toFixed(0)} ms)`, '≥ 55 fps', fps.fps >= 55);

    // The 2,000-message conversation.
    const newest = await L.api(node, '/api/v1/conversations?limit=5');
    const longId = newest.items.find((c) => (c.title || '').startsWith(LONG_TITLE))?.id;
    if (!longId) throw new Error('the 2,000-message conversation is not in the node');
    const conv = await L.api(node, `/api/v1/conversations/${longId}`, { timeout: 300_000 });
    const firstText = textOf(conv.messages[0]).slice(0, 40);
    const open = [];
    for (let i = 0; i < 4; i++) {
      const t0 = Date.now();
      await page.goto(`${app}/c/${longId}`, { waitUntil: 'commit' });
      await page.getByRole('heading', { level: 1, name: `${LONG_TITLE} 0`, exact: true }).waitFor({ timeout: 60_000 });
      await page.getByText(firstText, { exact: false }).first().waitFor({ timeout: 60_000 });
      open.push(Date.now() - t0);
      const rt = await page.evaluate((id) => {
        const e = performance.getEntriesByType('resource').filter((r) => r.name.includes(`/api/v1/conversations/${id}`)).pop();
        return e ? { fetch: Math.round(e.responseEnd - e.startTime), start: Math.round(e.startTime), bytes: e.encodedBodySize, rows: document.querySelectorAll('article').length } : null;
      }, longId);
      if (rt) console.log(`  run ${i}: its GET started at ${rt.start} ms, took ${rt.fetch} ms (${(rt.bytes / 1e6).toFixed(2)} MB); ${rt.rows} <article>s in the DOM`);
    }
    const warm = median(open.slice(1));
    console.log(`open ${conv.messages.length}-message conversation, navigation → h1 + first message visible: ${open.join(', ')} ms (first is cold)`);
    row(`open ${conv.messages.length}-msg conversation: navigation → h1 + first message (median of 3 warm)`, `${warm} ms (cold ${open[0]} ms)`, '≤ 500 ms', warm <= 500);
    // In-app navigation (no document load): from the list, pushState to the reader.
    const inApp = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(app + '/');
      await page.locator(rowSel).first().waitFor();
      const t0 = Date.now();
      await page.evaluate((id) => {
        history.pushState({}, '', `/c/${id}`);
        dispatchEvent(new PopStateEvent('popstate'));
      }, longId);
      await page.getByRole('heading', { level: 1, name: `${LONG_TITLE} 0`, exact: true }).waitFor({ timeout: 60_000 });
      await page.getByText(firstText, { exact: false }).first().waitFor({ timeout: 60_000 });
      inApp.push(Date.now() - t0);
    }
    console.log(`open it by in-app navigation (history.pushState + popstate) → h1 + first message: ${inApp.join(', ')} ms`);
    row('  … by in-app navigation (median of 3)', `${median(inApp)} ms`, '≤ 500 ms', median(inApp) <= 500);
  } finally {
    await browser.close();
    await node.stop();
  }
}

function textOf(m) {
  if (typeof m.text === 'string') return m.text;
  if (typeof m.content === 'string') return m.content;
  if (Array.isArray(m.parts)) return m.parts.join(' ');
  return JSON.stringify(m.content ?? '');
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

function printTable() {
  const w = [0, 0, 0, 0];
  const lines = [['figure', 'measured', 'goal', 'result'], ...rows.map((r) => [r.figure, r.value, r.goal, r.result])];
  for (const l of lines) l.forEach((c, i) => (w[i] = Math.max(w[i], c.length)));
  console.log('');
  for (const [i, l] of lines.entries()) {
    console.log(l.map((c, j) => c.padEnd(w[j])).join(' | '));
    if (i === 0) console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
  }
}

try {
  await main();
  if (rows.length) printTable();
} catch (e) {
  if (rows.length) printTable();
  console.error('bench failed:', e.stack || e.message);
  process.exitCode = 1;
} finally {
  L.cleanup();
}
