// The few hub API calls the simulator makes (DESIGN.md "HTTP API"): sign in, create devices, register
// the CI as a trust anchor, read the hub's eIM identity.
import type { EimIdentity, EsimAgent } from './fleet-file.ts'

export class HubApiError extends Error {
  readonly code: string
  readonly status: number
  override readonly name = 'HubApiError'

  constructor (message: string, status = 0, code = 'SIM_ERR_HUB_API') {
    super(message)
    this.status = status
    this.code = code
  }
}

export interface DeviceCreateBody {
  name: string
  eid?: string
  imei?: string
  tags?: string[]
  esimAgent?: EsimAgent
}

export interface CreatedDevice {
  device: { id: string }
  credentials: { clientId: string, username: string, password: string, mqttUrl?: string }
}

export type TrustAnchorOutcome = 'registered' | 'already-registered' | 'unsupported'

const REQUEST_TIMEOUT_MS = 15_000

export class HubApi {
  readonly baseUrl: string

  constructor (baseUrl: string, private readonly token: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '')
  }

  /** Signs in with an admin's (or operator's) email and password. */
  static async login (baseUrl: string, email: string, password: string): Promise<HubApi> {
    const anonymous = new HubApi(baseUrl, '')
    const res = await anonymous.request<{ accessToken?: string }>('POST', '/api/auth/login', { email, password })
    if (res.status !== 200 || typeof res.body?.accessToken !== 'string') {
      throw new HubApiError(`sign-in as ${email} at ${anonymous.baseUrl} failed: ${describe(res)}`, res.status, 'SIM_ERR_LOGIN')
    }
    return new HubApi(baseUrl, res.body.accessToken)
  }

  async request<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number, body: T }> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.token !== '') headers.authorization = 'Bearer ' + this.token
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
      throw new HubApiError(`cannot reach the hub at ${this.baseUrl} (${cause}); is it running, and is --api-url right?`, 0, 'SIM_ERR_UNREACHABLE')
    }
    const text = await res.text()
    let parsed: unknown = null
    if (text !== '') {
      try { parsed = JSON.parse(text) } catch { parsed = { error: { code: 'NOT_JSON', message: text.slice(0, 200) } } }
    }
    return { status: res.status, body: parsed as T }
  }

  async createDevice (body: DeviceCreateBody): Promise<CreatedDevice> {
    const res = await this.request<CreatedDevice>('POST', '/api/devices', body)
    if (res.status !== 201 || typeof res.body?.credentials?.password !== 'string') {
      throw new HubApiError(`creating device "${body.name}" failed: ${describe(res)}`, res.status)
    }
    return res.body
  }

  /** Registers a CI certificate as a trust anchor for eUICC verification (the hub answers a certificate it
   * holds already like a new one). */
  async registerTrustAnchor (certificatePem: string): Promise<TrustAnchorOutcome> {
    const res = await this.request('POST', '/api/euicc/trust-anchors', { certificate: certificatePem })
    if (res.status === 200 || res.status === 201) return 'registered'
    if (res.status === 409) return 'already-registered'
    if (res.status === 404 || res.status === 405) return 'unsupported'
    throw new HubApiError(`registering the CI as a trust anchor failed: ${describe(res)}`, res.status)
  }

  /** The hub's eIM identity, or null when the hub has none (yet). */
  async eim (): Promise<EimIdentity | null> {
    const res = await this.request<Partial<EimIdentity>>('GET', '/api/eim')
    if (res.status !== 200 || typeof res.body?.eimId !== 'string' || typeof res.body.publicKey !== 'string') return null
    return { eimId: res.body.eimId, publicKey: res.body.publicKey }
  }
}

function describe (res: { status: number, body: unknown }): string {
  const error = (res.body as { error?: { code?: string, message?: string } } | null)?.error
  return error === undefined ? `HTTP ${res.status}` : `HTTP ${res.status} ${error.code ?? ''}: ${error.message ?? ''}`.trim()
}
