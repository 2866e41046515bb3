import { createHash, X509Certificate } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { trustAnchors } from '../db/schema/index.ts'

export interface TrustAnchorView {
  id: string
  subject: string
  fingerprint: string
  notAfter: string
  source: 'directory' | 'api'
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Parses one or more certificates from PEM text or a single DER. */
export function parseCertificates (data: Buffer | string): X509Certificate[] {
  const text = typeof data === 'string' ? data : data.toString('latin1')
  const pems = text.match(PEM_BLOCK)
  if (pems !== null) return pems.map((pem) => new X509Certificate(pem))
  return [new X509Certificate(typeof data === 'string' ? Buffer.from(data, 'base64') : data)]
}

const fingerprintOf = (cert: X509Certificate): string => createHash('sha256').update(cert.raw).digest('hex')

/** The CI certificates the hub trusts: those in HUB_EUICC_TRUST_DIR (read at start) and those added through
 * the API (in the database). Verification reads the in-memory list; changes reload it. */
export class TrustStore {
  private directory: Array<{ cert: X509Certificate, view: TrustAnchorView }> = []
  private stored: Array<{ cert: X509Certificate, view: TrustAnchorView }> = []

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
        this.directory.push({ cert, view: { id: 'dir:' + fingerprint.slice(0, 16), subject: cert.subject, fingerprint, notAfter: new Date(cert.validTo).toISOString(), source: 'directory' } })
      }
    }
  }

  async reload (): Promise<void> {
    const rows = await this.database.db.select().from(trustAnchors)
    this.stored = rows.map((row) => ({
      cert: new X509Certificate(row.der),
      view: { id: row.id, subject: row.subject, fingerprint: row.fingerprint, notAfter: row.notAfter.toISOString(), source: 'api' as const }
    }))
    for (const listener of this.listeners) listener()
  }

  anchors (): X509Certificate[] {
    return [...this.directory, ...this.stored].map((a) => a.cert)
  }

  list (): TrustAnchorView[] {
    return [...this.directory, ...this.stored].map((a) => a.view)
  }

  /** Adds a CI certificate; it must be a CA certificate. Returns the existing entry for a duplicate. */
  async add (data: string, createdBy: string | null): Promise<TrustAnchorView> {
    const [cert] = parseCertificates(data)
    if (!cert.ca) throw new RangeError('the certificate is not a CA certificate')
    const fingerprint = fingerprintOf(cert)
    await this.database.db.insert(trustAnchors).values({
      subject: cert.subject, fingerprint, der: cert.raw, notAfter: new Date(cert.validTo), createdBy
    }).onConflictDoNothing()
    await this.reload()
    return this.list().find((a) => a.fingerprint === fingerprint) as TrustAnchorView
  }

  /** Removes an API-managed anchor; directory anchors are removed by removing their file. */
  async remove (id: string): Promise<TrustAnchorView | null> {
    const found = this.stored.find((a) => a.view.id === id)
    if (found === undefined) return null
    await this.database.db.delete(trustAnchors).where(eq(trustAnchors.id, id))
    await this.reload()
    return found.view
  }
}
