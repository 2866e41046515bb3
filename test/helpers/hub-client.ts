// The test suite's one HTTP client: a request to a hub over node:http, optionally from a chosen local
// address (any 127.x.y.z reaches 127.0.0.1 on Linux, so per-address limits can be tried without trusting a
// forwarded-for header). Bodies are parsed as JSON when they are JSON. `TestHub.api` is this with the
// hub's URL and a bearer token; the types of the API's answers come from the route schemas.
import http from 'node:http'
import type { Static } from 'typebox'
import type { Static as ProtocolStatic } from '@sinclair/typebox'
import type { DeviceView, ErrorBody, FleetSummary, TokenResponse } from '../../protocol/api-schemas.ts'
import type { Command } from '../../server/routes/command-routes.ts'

export type { DeviceView }
export type CommandView = Static<typeof Command>
export type ErrorView = ProtocolStatic<typeof ErrorBody>
export type FleetSummaryView = ProtocolStatic<typeof FleetSummary>
export type TokenView = ProtocolStatic<typeof TokenResponse>

export interface Answer<T = any> { status: number, body: T, headers: http.IncomingHttpHeaders, ms: number }

export interface RequestOptions {
  /** Sent as `authorization: Bearer <token>` unless empty. */
  token?: string
  /** Sent as JSON. */
  body?: unknown
  /** Sent as is (with content-type application/json unless a header says otherwise). */
  raw?: string
  headers?: Record<string, string>
  /** The local address to connect from. */
  from?: string
}

export function request<T = any> (baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer<T>> {
  const url = new URL(path, baseUrl)
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body))
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined && options.token !== '') headers.authorization ??= 'Bearer ' + options.token
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
        resolve({ status: res.statusCode ?? 0, body: body as T, headers: res.headers, ms: performance.now() - started })
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
