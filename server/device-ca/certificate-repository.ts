import { and, eq, gt, isNotNull, isNull, sql } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { deviceCertificates, devices, type DeviceCertificateRow } from '../db/schema/index.ts'
import type { DeviceKeyType } from './device-ca.ts'

export type CertificateSummary = Omit<DeviceCertificateRow, 'der'>

const summaryColumns = {
  serial: deviceCertificates.serial,
  deviceId: deviceCertificates.deviceId,
  tenantId: deviceCertificates.tenantId,
  fingerprint: deviceCertificates.fingerprint,
  keyType: deviceCertificates.keyType,
  notAfter: deviceCertificates.notAfter,
  revokedAt: deviceCertificates.revokedAt,
  createdAt: deviceCertificates.createdAt
}

/** The `device_certificates` table: what the device CA issued, and which of it is revoked. Queries
 * made for an API caller carry its tenant. The rows go with their device (ON DELETE CASCADE). */
export class DeviceCertificateRepository {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

  async insert (row: { serial: string, deviceId: string, tenantId: string, fingerprint: string, keyType: DeviceKeyType, der: Buffer, notAfter: Date }): Promise<void> {
    await this.db.insert(deviceCertificates).values(row)
  }

  async list (tenantId: string, deviceId: string): Promise<CertificateSummary[]> {
    return await this.db.select(summaryColumns).from(deviceCertificates)
      .where(and(eq(deviceCertificates.tenantId, tenantId), eq(deviceCertificates.deviceId, deviceId)))
      .orderBy(deviceCertificates.createdAt, deviceCertificates.serial)
  }

  /** Revokes the device's certificates (one of them with `serial`) that are not revoked yet; returns the
   * serials revoked now. */
  async revoke (tenantId: string, deviceId: string, serial?: string): Promise<string[]> {
    const where = [eq(deviceCertificates.tenantId, tenantId), eq(deviceCertificates.deviceId, deviceId), isNull(deviceCertificates.revokedAt)]
    if (serial !== undefined) where.push(eq(deviceCertificates.serial, serial))
    const rows = await this.db.update(deviceCertificates).set({ revokedAt: new Date() }).where(and(...where)).returning({ serial: deviceCertificates.serial })
    return rows.map((r) => r.serial)
  }

  /** Revoked serials still inside their validity (expired ones are refused by TLS anyway): the list every
   * process keeps in memory. `deviceId` narrows it to one device. */
  async revokedSerials (deviceId?: string): Promise<string[]> {
    const where = [isNotNull(deviceCertificates.revokedAt), gt(deviceCertificates.notAfter, sql`now()`)]
    if (deviceId !== undefined) where.push(eq(deviceCertificates.deviceId, deviceId))
    const rows = await this.db.select({ serial: deviceCertificates.serial }).from(deviceCertificates).where(and(...where))
    return rows.map((r) => r.serial)
  }

  /** The device a certificate authenticates: the certificate was issued to it, is not revoked, and the
   * device exists and is enabled. Database errors propagate (CONNECT is refused). */
  async authenticate (deviceId: string, serial: string): Promise<{ id: string, tenantId: string } | null> {
    const [row] = await this.db.select({ id: devices.id, tenantId: devices.tenantId, disabled: devices.disabled, revokedAt: deviceCertificates.revokedAt })
      .from(deviceCertificates)
      .innerJoin(devices, eq(devices.id, deviceCertificates.deviceId))
      .where(and(eq(deviceCertificates.serial, serial), eq(deviceCertificates.deviceId, deviceId)))
    return row !== undefined && row.revokedAt === null && !row.disabled ? { id: row.id, tenantId: row.tenantId } : null
  }
}
