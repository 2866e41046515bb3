import { createHash, X509Certificate } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { and, eq, isNull, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { trustAnchors } from '../db/schema/index.ts'

export interface TrustAnchorView {
  id: string
  subject: string
  fingerprint: string
  notAfter: string
  source: 'directory' | 'api'
  /** `platform`: trusted for every tenant; `tenant`: for the devices of `tenantId` only. */
  scope: 'platform' | 'tenant'
  tenantId: string | null
}

interface Anchor { cert: X509Certificate, view: TrustAnchorView }

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Parses one or more certificates from PEM text or a single DER. */
export function parseCertificates (data: Buffer | string): X509Certificate[] {
  const text = typeof data === 'string' ? data : data.toString('latin1')
  const pems = text.match(PEM_BLOCK)
  if (pems !== null) return pems.map((pem) => new X509Certificate(pem))
  return [new X509Certificate(typeof data === 'string' ? Buffer.from(data, 'base64') : data)]
}

const fingerprintOf = (cert: X509Certificate): string => createHash('sha256').update(cert.raw).digest('hex')

/** The CI certificates the hub trusts. Platform anchors (those in HUB_EUICC_TRUST_DIR, read at start, and
 * those a platform admin adds through the API) are trusted for every tenant; a tenant's anchors (added by
 * its admins, or by a platform admin for it) only for the devices of that tenant. Verification reads the
 * in-memory lists; changes reload them. */
export class TrustStore {
  private directory: Anchor[] = []
  private platform: Anchor[] = []
  private readonly byTenant = new Map<string, Anchor[]>()

  private readonly listeners: Array<() => void> = []

  constructor (private readonly database: Database) {}

  /** Called after the anchors change (verifications cached against the old ones must go). */
  onChange (listener: () => void): void {
    this.listeners.push(listener)
  }

  /** Reads every PEM or DER certificate file in `dir`; an unreadable file is an error naming it. */
  loadDirectory (dir: string): void {
    this.directory = []
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (!statSync(path).isFile()) continue
      let certs: X509Certificate[]
      try {
        certs = parseCertificates(readFileSync(path))
      } catch (err) {
        throw new Error(`HUB_EUICC_TRUST_DIR: ${path} is not a PEM or DER certificate (${(err as Error).message})`)
      }
      for (const cert of certs) {
        const fingerprint = fingerprintOf(cert)
        this.directory.push({ cert, view: { id: 'dir:' + fingerprint.slice(0, 16), subject: cert.subject, fingerprint, notAfter: new Date(cert.validTo).toISOString(), source: 'directory', scope: 'platform', tenantId: null } })
      }
    }
  }

  async reload (): Promise<void> {
    const rows = await this.database.db.select().from(trustAnchors).orderBy(trustAnchors.createdAt, trustAnchors.id)
    this.platform = []
    this.byTenant.clear()
    for (const row of rows) {
      const anchor: Anchor = {
        cert: new X509Certificate(row.der),
        view: { id: row.id, subject: row.subject, fingerprint: row.fingerprint, notAfter: row.notAfter.toISOString(), source: 'api', scope: row.tenantId === null ? 'platform' : 'tenant', tenantId: row.tenantId }
      }
      if (row.tenantId === null) this.platform.push(anchor)
      else this.byTenant.set(row.tenantId, [...this.byTenant.get(row.tenantId) ?? [], anchor])
    }
    for (const listener of this.listeners) listener()
  }

  /** The CIs trusted for a device of `tenantId`: the platform's and that tenant's. `null` (a notification
   * bound to no device): the platform's only. */
  anchors (tenantId: string | null = null): X509Certificate[] {
    return this.scoped(tenantId).map((a) => a.cert)
  }

  /** What a tenant's admin sees (the platform's and its own), or with `everything` (platform admins)
   * every tenant's too. */
  list (tenantId: string | null = null, everything = false): TrustAnchorView[] {
    if (everything) return [...this.directory, ...this.platform, ...[...this.byTenant.values()].flat()].map((a) => a.view)
    return this.scoped(tenantId).map((a) => a.view)
  }

  /** One anchor by id, if `tenantId` may see it (`everything`: any). */
  find (id: string, tenantId: string | null, everything = false): TrustAnchorView | null {
    return this.list(tenantId, everything).find((a) => a.id === id) ?? null
  }

  private scoped (tenantId: string | null): Anchor[] {
    return [...this.directory, ...this.platform, ...(tenantId === null ? [] : this.byTenant.get(tenantId) ?? [])]
  }

  /** Adds a CI certificate for `tenantId` (null: a platform anchor); it must be a CA certificate. Returns
   * the existing entry of that scope for a duplicate. */
  async add (data: string, createdBy: string | null, tenantId: string | null): Promise<TrustAnchorView> {
    const [cert] = parseCertificates(data)
    if (!cert.ca) throw new RangeError('the certificate is not a CA certificate')
    const fingerprint = fingerprintOf(cert)
    await this.database.db.insert(trustAnchors).values({
      tenantId, subject: cert.subject, fingerprint, der: cert.raw, notAfter: new Date(cert.validTo), createdBy
    }).onConflictDoNothing()
    await this.reload()
    return this.scoped(tenantId).find((a) => a.view.source === 'api' && a.view.fingerprint === fingerprint && a.view.tenantId === tenantId)?.view as TrustAnchorView
  }

  /** Removes an API-managed anchor of `tenantId` (null: a platform anchor); directory anchors are removed
   * by removing their file. Returns null when there is no such anchor in that scope. */
  async remove (id: string, tenantId: string | null): Promise<TrustAnchorView | null> {
    const where: SQL = and(eq(trustAnchors.id, id), tenantId === null ? isNull(trustAnchors.tenantId) : eq(trustAnchors.tenantId, tenantId)) as SQL
    const deleted = await this.database.db.delete(trustAnchors).where(where).returning({ id: trustAnchors.id })
    if (deleted.length === 0) return null
    const found = this.list(null, true).find((a) => a.id === id) ?? null
    await this.reload()
    return found
  }
}
