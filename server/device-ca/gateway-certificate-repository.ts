import { and, eq, gt, isNotNull, isNull, sql } from 'drizzle-orm'
import type { GatewayCertificateVerdict } from '../../broker/hub-broker.ts'
import type { Database } from '../db/database.ts'
import { gatewayCertificates, gateways, type GatewayCertificateRow } from '../db/schema/index.ts'
import type { DeviceKeyType } from './device-ca.ts'

export type GatewayCertificateSummary = Omit<GatewayCertificateRow, 'der'>

const summaryColumns = {
  serial: gatewayCertificates.serial,
  gatewayId: gatewayCertificates.gatewayId,
  tenantId: gatewayCertificates.tenantId,
  fingerprint: gatewayCertificates.fingerprint,
  keyType: gatewayCertificates.keyType,
  notAfter: gatewayCertificates.notAfter,
  revokedAt: gatewayCertificates.revokedAt,
  createdAt: gatewayCertificates.createdAt
}

/** The `gateway_certificates` table: what the device CA issued to site gateways, and which of it is
 * revoked (the gateway counterpart of `DeviceCertificateRepository`). Queries made for an API caller
 * carry its tenant. The rows go with their gateway (ON DELETE CASCADE). */
export class GatewayCertificateRepository {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

  async insert (row: { serial: string, gatewayId: string, tenantId: string, fingerprint: string, keyType: DeviceKeyType, der: Buffer, notAfter: Date }): Promise<void> {
    await this.db.insert(gatewayCertificates).values(row)
  }

  async list (tenantId: string, gatewayId: string): Promise<GatewayCertificateSummary[]> {
    return await this.db.select(summaryColumns).from(gatewayCertificates)
      .where(and(eq(gatewayCertificates.tenantId, tenantId), eq(gatewayCertificates.gatewayId, gatewayId)))
      .orderBy(gatewayCertificates.createdAt, gatewayCertificates.serial)
  }

  /** Revokes the gateway's certificates (one of them with `serial`) that are not revoked yet; returns
   * the serials revoked now. */
  async revoke (tenantId: string, gatewayId: string, serial?: string): Promise<string[]> {
    const where = [eq(gatewayCertificates.tenantId, tenantId), eq(gatewayCertificates.gatewayId, gatewayId), isNull(gatewayCertificates.revokedAt)]
    if (serial !== undefined) where.push(eq(gatewayCertificates.serial, serial))
    const rows = await this.db.update(gatewayCertificates).set({ revokedAt: new Date() }).where(and(...where)).returning({ serial: gatewayCertificates.serial })
    return rows.map((r) => r.serial)
  }

  /** Revoked serials of a gateway still inside their validity (what the TLS gate closes). */
  async revokedSerials (gatewayId: string): Promise<string[]> {
    const rows = await this.db.select({ serial: gatewayCertificates.serial }).from(gatewayCertificates)
      .where(and(eq(gatewayCertificates.gatewayId, gatewayId), isNotNull(gatewayCertificates.revokedAt), gt(gatewayCertificates.notAfter, sql`now()`)))
    return rows.map((r) => r.serial)
  }

  /** The gateway a certificate authenticates: issued to it, not revoked, not expired, and the gateway
   * exists and is enabled; otherwise why not, with the tenant when the certificate is known. Read on
   * every CONNECT, so a process that missed a revocation event still refuses. Database errors
   * propagate (CONNECT is refused as server unavailable). */
  async authenticate (gatewayId: string, serial: string): Promise<GatewayCertificateVerdict> {
    const [row] = await this.db.select({
      id: gateways.id,
      tenantId: gateways.tenantId,
      site: gateways.site,
      disabled: gateways.disabled,
      revokedAt: gatewayCertificates.revokedAt,
      expired: sql<boolean>`${gatewayCertificates.notAfter} <= now()`
    }).from(gatewayCertificates)
      .innerJoin(gateways, eq(gateways.id, gatewayCertificates.gatewayId))
      .where(and(eq(gatewayCertificates.serial, serial), eq(gatewayCertificates.gatewayId, gatewayId)))
    if (row === undefined) return { ok: false, reason: 'certificate-unknown', tenantId: null }
    if (row.revokedAt !== null) return { ok: false, reason: 'certificate-revoked', tenantId: row.tenantId }
    if (row.expired) return { ok: false, reason: 'certificate-expired', tenantId: row.tenantId }
    if (row.disabled) return { ok: false, reason: 'gateway-disabled', tenantId: row.tenantId }
    return { ok: true, gateway: { id: row.id, tenantId: row.tenantId, site: row.site } }
  }
}
