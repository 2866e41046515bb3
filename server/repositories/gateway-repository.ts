import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { and, asc, eq, sql } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { devices, gateways, type GatewayRow } from '../db/schema/index.ts'
import { hashDeviceSecret } from './device-repository.ts'

export type PublicGateway = Omit<GatewayRow, 'secretHash'>

export interface AuthenticatedGateway { id: string, tenantId: string, site: string }

const publicColumns = {
  id: gateways.id,
  tenantId: gateways.tenantId,
  name: gateways.name,
  site: gateways.site,
  disabled: gateways.disabled,
  createdAt: gateways.createdAt,
  updatedAt: gateways.updatedAt
}
const DUMMY_HASH = hashDeviceSecret('not-a-gateway')

/** Site gateways of one tenant (every query carries the tenant predicate), and the lookups the broker
 * makes for a gateway's session: its credentials, and which devices its site holds. */
export class GatewayRepository {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

  /** A new gateway with a random secret, shown once; only its hash is kept (as for devices). */
  async create (tenantId: string, input: { name: string, site: string }): Promise<{ gateway: PublicGateway, secret: string }> {
    const secret = randomBytes(32).toString('base64url')
    const [gateway] = await this.db.insert(gateways).values({ id: randomUUID(), tenantId, name: input.name, site: input.site, secretHash: hashDeviceSecret(secret) }).returning(publicColumns)
    return { gateway, secret }
  }

  async list (tenantId: string): Promise<PublicGateway[]> {
    return await this.db.select(publicColumns).from(gateways).where(eq(gateways.tenantId, tenantId)).orderBy(asc(gateways.site), asc(gateways.name))
  }

  async get (tenantId: string, id: string): Promise<PublicGateway | null> {
    const [row] = await this.db.select(publicColumns).from(gateways).where(and(eq(gateways.tenantId, tenantId), eq(gateways.id, id)))
    return row ?? null
  }

  async update (tenantId: string, id: string, patch: { name?: string, site?: string, disabled?: boolean }): Promise<PublicGateway | null> {
    const [row] = await this.db.update(gateways).set({ ...patch, updatedAt: new Date() }).where(and(eq(gateways.tenantId, tenantId), eq(gateways.id, id))).returning(publicColumns)
    return row ?? null
  }

  async delete (tenantId: string, id: string): Promise<boolean> {
    return (await this.db.delete(gateways).where(and(eq(gateways.tenantId, tenantId), eq(gateways.id, id))).returning({ id: gateways.id })).length > 0
  }

  /** A gateway's MQTT credentials; the same work and answer for an unknown id as for a wrong secret. */
  async authenticate (id: string, secret: string): Promise<AuthenticatedGateway | null> {
    const [row] = await this.db.select({ id: gateways.id, tenantId: gateways.tenantId, site: gateways.site, secretHash: gateways.secretHash, disabled: gateways.disabled })
      .from(gateways).where(eq(gateways.id, id))
    const match = timingSafeEqual(Buffer.from(row?.secretHash ?? DUMMY_HASH, 'hex'), Buffer.from(hashDeviceSecret(secret), 'hex'))
    return row !== undefined && match && !row.disabled ? { id: row.id, tenantId: row.tenantId, site: row.site } : null
  }

  /** Whether a gateway id exists (the broker asks before trying a device's credentials). */
  async exists (id: string): Promise<boolean> {
    const [row] = await this.db.select({ n: sql<number>`1` }).from(gateways).where(eq(gateways.id, id))
    return row !== undefined
  }

  /** The enabled devices of a tenant's site: whom a gateway of that site may act for. */
  async siteDevices (tenantId: string, site: string): Promise<string[]> {
    const rows = await this.db.select({ id: devices.id }).from(devices).where(and(eq(devices.tenantId, tenantId), eq(devices.site, site), eq(devices.disabled, false)))
    return rows.map((r) => r.id)
  }
}
