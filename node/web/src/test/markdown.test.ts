import { describe, expect, it } from 'vitest'
import { renderMarkdown } from '../markdown'

// Message text is untrusted: whatever it holds, the HTML the reader inserts is inert.
describe('renderMarkdown', () => {
  it('strips scripts, event handlers and styles', () => {
    const html = renderMarkdown('hi <script>alert(1)</script><b onclick="alert(2)" style="x">b</b>')
    expect(html).not.toMatch(/<script|onclick|style=/i)
    expect(html).toContain('<b>b</b>')
  })

  it('never loads remote images and never links to javascript:', () => {
    const remote = renderMarkdown('![cat](https://example.com/cat.png)')
    expect(remote).not.toContain('<img')
    expect(remote).toContain('href="https://example.com/cat.png"')
    const js = renderMarkdown('![x](javascript:alert(1))')
    expect(js).not.toMatch(/javascript:/i)
    const link = renderMarkdown('[a](javascript:alert(1)) [b](https://vivim.example)')
    expect(link).not.toMatch(/href="javascript:/i)
    expect(link).toContain('rel="noopener noreferrer nofollow"')
  })

  it('keeps CJK, RTL and emoji text as written', () => {
    const text = '今天有什么重大新闻 مرحبا 👋🏽'
    expect(renderMarkdown(text)).toContain(text)
  })
})
