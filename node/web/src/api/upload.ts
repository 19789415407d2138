// POST /api/v1/import with upload progress. fetch() reports no upload progress, so this one call
// uses XMLHttpRequest; its query and response types still come from the generated `paths`.
import { getToken } from '../auth'
import { ApiError, baseUrl, errorFromBody, unauthorized } from './client'
import type { paths } from './schema.gen'

type ImportOp = paths['/api/v1/import']['post']
export type ImportQuery = NonNullable<ImportOp['parameters']['query']>
export type ImportResponse = ImportOp['responses'][200]['content']['application/json']

export interface UploadProgress {
  loaded: number
  total: number
}

export interface UploadHandlers {
  onProgress?: (p: UploadProgress) => void
  /** The whole file reached the node; it is importing now. */
  onUploaded?: () => void
  signal?: AbortSignal
}

export function importUrl(query: ImportQuery): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return `${baseUrl}/api/v1/import${s ? `?${s}` : ''}`
}

export function uploadImport(file: Blob, query: ImportQuery, h: UploadHandlers = {}): Promise<ImportResponse> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', importUrl(query))
    const token = getToken()
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.setRequestHeader('Content-Type', 'application/octet-stream')
    xhr.upload.onprogress = (e) => h.onProgress?.({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size })
    xhr.upload.onload = () => {
      h.onProgress?.({ loaded: file.size, total: file.size })
      h.onUploaded?.()
    }
    xhr.onload = () => {
      let body: unknown = undefined
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : undefined
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        if (body && typeof body === 'object') resolve(body as ImportResponse)
        else reject(new ApiError(xhr.status, 'bad_response', 'The node answered, but not with an import summary.'))
        return
      }
      if (xhr.status === 401 && token && token === getToken()) unauthorized()
      reject(errorFromBody(xhr.status, xhr.statusText, body))
    }
    xhr.onerror = () =>
      reject(
        new ApiError(
          0,
          'network',
          'The upload was cut off: the node stopped answering (it may have refused a file over its upload limit).',
        ),
      )
    xhr.onabort = () => reject(new DOMException('Aborted', 'AbortError'))
    if (h.signal) {
      if (h.signal.aborted) return xhr.abort()
      h.signal.addEventListener('abort', () => xhr.abort(), { once: true })
    }
    xhr.send(file)
  })
}
