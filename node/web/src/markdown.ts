// Untrusted message text → sanitized HTML. Code highlighting loads lazily.
import { Marked } from 'marked'
import DOMPurify from 'dompurify'

const marked = new Marked({ gfm: true, breaks: false, async: false })

let hooked = false
function hook() {
  if (hooked) return
  hooked = true
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      node.setAttribute('rel', 'noopener noreferrer nofollow')
      node.setAttribute('target', '_blank')
    }
  })
  // Never fetch remote content: images become links.
  DOMPurify.addHook('uponSanitizeElement', (node, data) => {
    if (data.tagName === 'img') {
      const el = node as Element
      const src = el.getAttribute('src') ?? ''
      if (!src.startsWith('data:image/')) {
        const a = el.ownerDocument.createElement('a')
        // Only web addresses become links (never javascript: or other schemes).
        if (/^https?:\/\//i.test(src)) a.setAttribute('href', src)
        a.textContent = `[image: ${el.getAttribute('alt') || src}]`
        el.replaceWith(a)
      }
    }
  })
}

export function renderMarkdown(text: string): string {
  hook()
  const html = marked.parse(text) as string
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ['style', 'iframe', 'form', 'input', 'button', 'video', 'audio', 'source', 'object', 'embed'],
    FORBID_ATTR: ['style', 'srcset'],
  })
}

type Hljs = typeof import('highlight.js/lib/core').default
let hl: Promise<Hljs> | null = null

function loadHljs(): Promise<Hljs> {
  if (!hl)
    hl = (async () => {
      const [core, js, ts, py, rust, bash, json, xml, css, sql, go, java, cpp, yaml, md] = await Promise.all([
        import('highlight.js/lib/core'),
        import('highlight.js/lib/languages/javascript'),
        import('highlight.js/lib/languages/typescript'),
        import('highlight.js/lib/languages/python'),
        import('highlight.js/lib/languages/rust'),
        import('highlight.js/lib/languages/bash'),
        import('highlight.js/lib/languages/json'),
        import('highlight.js/lib/languages/xml'),
        import('highlight.js/lib/languages/css'),
        import('highlight.js/lib/languages/sql'),
        import('highlight.js/lib/languages/go'),
        import('highlight.js/lib/languages/java'),
        import('highlight.js/lib/languages/cpp'),
        import('highlight.js/lib/languages/yaml'),
        import('highlight.js/lib/languages/markdown'),
      ])
      const h = core.default
      const reg = { javascript: js, typescript: ts, python: py, rust, bash, json, xml, css, sql, go, java, cpp, yaml, markdown: md }
      for (const [name, mod] of Object.entries(reg)) h.registerLanguage(name, mod.default)
      h.registerAliases(['js', 'jsx'], { languageName: 'javascript' })
      h.registerAliases(['ts', 'tsx'], { languageName: 'typescript' })
      h.registerAliases(['py'], { languageName: 'python' })
      h.registerAliases(['sh', 'shell', 'zsh'], { languageName: 'bash' })
      h.registerAliases(['html'], { languageName: 'xml' })
      h.registerAliases(['rs'], { languageName: 'rust' })
      return h
    })()
  return hl
}

/** Highlights every `pre code` inside root (lazily loads highlight.js). */
export async function highlightIn(root: HTMLElement | null) {
  if (!root) return
  const blocks = root.querySelectorAll<HTMLElement>('pre code:not([data-highlighted])')
  if (blocks.length === 0) return
  const h = await loadHljs()
  blocks.forEach((b) => {
    const m = /language-([\w+-]+)/.exec(b.className)
    if (m && !h.getLanguage(m[1])) {
      b.setAttribute('data-highlighted', 'no')
      return
    }
    try {
      h.highlightElement(b)
    } catch {
      /* leave plain */
    }
  })
}
