import http from 'node:http'

export interface Answer { status: number, body: any, headers: http.IncomingHttpHeaders, ms: number }

/** One HTTP request to the hub from a chosen local address (any 127.x.y.z reaches 127.0.0.1 on Linux),
 * so per-address limits can be tried without trusting a forwarded-for header. */
export function request (baseUrl: string, method: string, path: string, options: { body?: unknown, raw?: string, headers?: Record<string, string>, from?: string } = {}): Promise<Answer> {
  const url = new URL(path, baseUrl)
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body))
  const headers: Record<string, string> = { ...options.headers }
  if (payload !== undefined) headers['content-type'] ??= 'application/json'
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, localAddress: options.from }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        let body: unknown = text
        try { body = text === '' ? null : JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers, ms: performance.now() - started })
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** The value of the refresh cookie set by an answer, if any. */
export function refreshCookie (answer: Answer): string | undefined {
  for (const line of answer.headers['set-cookie'] ?? []) {
    const match = /^hub_refresh=([^;]*)/.exec(line)
    if (match !== null) return match[1]
  }
  return undefined
}
