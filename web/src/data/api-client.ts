import type { SessionStore } from './session-store.ts'
import type { DevicePage, EventTicket, FleetSummary, LoginResponse } from './types.ts'

/** An error answer of the API (`{"error": {"code", "message"}}`) or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number
  readonly code: string

  constructor (status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

type Query = Record<string, string | number | undefined | null>

interface RequestOptions {
  body?: unknown
  query?: Query
  signal?: AbortSignal
  /** Send the access token, refresh it once on 401, then sign out. Default true. */
  auth?: boolean
}

/**
 * The dashboard's only way to the hub's HTTP API. An authenticated request that
 * gets 401 tries one token refresh (the refresh cookie); if that fails too the
 * session is cleared, which takes the app back to the sign-in form.
 */
export class ApiClient {
  readonly #session: SessionStore
  readonly #base: string
  #refreshing: Promise<boolean> | null = null

  constructor (session: SessionStore, base = '') {
    this.#session = session
    this.#base = base
  }

  async login (email: string, password: string, totp?: string): Promise<LoginResponse> {
    const answer = await this.request<LoginResponse>('POST', '/api/auth/login', { body: { email, password, totp }, auth: false })
    this.#session.set({ accessToken: answer.accessToken, user: answer.user })
    return answer
  }

  async logout (): Promise<void> {
    try {
      await this.request('POST', '/api/auth/logout', { auth: false })
    } catch {
      // signing out locally is what matters
    }
    this.#session.clear()
  }

  listDevices (query: { limit?: number, cursor?: string | null, q?: string, status?: string }, signal?: AbortSignal): Promise<DevicePage> {
    return this.request<DevicePage>('GET', '/api/devices', { query, signal })
  }

  fleetSummary (signal?: AbortSignal): Promise<FleetSummary> {
    return this.request<FleetSummary>('GET', '/api/fleet/summary', { signal })
  }

  eventTicket (): Promise<EventTicket> {
    return this.request<EventTicket>('POST', '/api/events/ticket')
  }

  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { response, text } = await this.#exchange(method, path, options)
    let payload: unknown = null
    if (text) {
      try {
        payload = JSON.parse(text)
      } catch {
        if (response.ok) throw new ApiError(response.status, 'BAD_RESPONSE', 'The hub sent a response that is not JSON')
      }
    }
    if (!response.ok) {
      const error = (payload as { error?: { code?: string, message?: string } } | null)?.error
      throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? (response.statusText || `HTTP ${response.status}`))
    }
    return payload as T
  }

  /** A request whose answer is not JSON (an SVG image): its text, or the API's error. */
  async requestText (method: string, path: string, options: RequestOptions = {}): Promise<string> {
    const { response, text } = await this.#exchange(method, path, options)
    if (response.ok) return text
    let error: { code?: string, message?: string } | undefined
    try {
      error = (JSON.parse(text) as { error?: { code?: string, message?: string } }).error
    } catch {}
    throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? (response.statusText || `HTTP ${response.status}`))
  }

  async #exchange (method: string, path: string, options: RequestOptions): Promise<{ response: Response, text: string }> {
    const auth = options.auth ?? true
    let response = await this.#send(method, path, options, auth)
    if (response.status === 401 && auth) {
      if (await this.#refresh()) response = await this.#send(method, path, options, auth)
      if (response.status === 401) this.#session.clear()
    }
    return { response, text: await response.text() }
  }

  async #send (method: string, path: string, options: RequestOptions, auth: boolean): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' }
    const token = this.#session.current?.accessToken
    if (auth && token) headers.authorization = `Bearer ${token}`
    let body: string | undefined
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.body)
    }
    try {
      return await fetch(this.#base + path + queryString(options.query), {
        method, headers, body, signal: options.signal, credentials: 'same-origin'
      })
    } catch (err) {
      if (options.signal?.aborted) throw err
      throw new ApiError(0, 'NETWORK', 'The hub cannot be reached')
    }
  }

  /** One refresh at a time, shared by every request that got 401 meanwhile. */
  #refresh (): Promise<boolean> {
    this.#refreshing ??= (async () => {
      try {
        const response = await fetch(this.#base + '/api/auth/refresh', { method: 'POST', credentials: 'same-origin' })
        if (!response.ok) return false
        const answer = await response.json() as Partial<LoginResponse>
        if (typeof answer.accessToken !== 'string' || !this.#session.current) return false
        this.#session.updateToken(answer.accessToken)
        return true
      } catch {
        return false
      } finally {
        this.#refreshing = null
      }
    })()
    return this.#refreshing
  }
}

function queryString (query: Query | undefined): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value))
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}
