import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { and, desc, eq, ilike, or, sql, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { textArray } from '../db/sql-values.ts'
import { devices, type Device } from '../db/schema/index.ts'
import { decodeCursor, encodeCursor } from './cursor.ts'

export interface DeviceInput {
  name: string
  eid?: string | null
  imei?: string | null
  tags?: string[]
  esimAgent?: 'lpa' | 'ipa'
  /** The field site the device is at, or null. */
  site?: string | null
  /** The device's data plan (a plan of its tenant: the route checks), or null for none. */
  planId?: string | null
}

export interface DeviceListQuery {
  q?: string
  tag?: string
  site?: string
  /** Operator id (`mm-mpt`…): devices with a profile of that operator on their eUICC, not deleted. */
  operator?: string
  /** Device ids to keep (status=online) or to leave out (status=offline). */
  onlyIds?: readonly string[]
  exceptIds?: readonly string[]
  limit: number
  cursor?: string
}

export type PublicDevice = Omit<Device, 'secretHash'>

export const hashDeviceSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex')
const DUMMY_HASH = hashDeviceSecret('not-a-device')

const publicColumns = {
  id: devices.id,
  tenantId: devices.tenantId,
  name: devices.name,
  eid: devices.eid,
  imei: devices.imei,
  tags: devices.tags,
  esimAgent: devices.esimAgent,
  disabled: devices.disabled,
  site: devices.site,
  planId: devices.planId,
  lastSeenAt: devices.lastSeenAt,
  createdAt: devices.createdAt,
  updatedAt: devices.updatedAt
}

/** Devices of one tenant: every query carries the tenant predicate. */
export class DeviceRepository {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

  /** Creates a device with a new random secret; the secret is returned once and only its hash is kept.
   * Device secrets are 256-bit random values, so SHA-256 is enough (argon2 is for human passwords, and
   * would make every MQTT CONNECT cost ~50 ms of CPU). */
  async create (tenantId: string, input: DeviceInput): Promise<{ device: PublicDevice, secret: string }> {
    const secret = randomBytes(32).toString('base64url')
    const [device] = await this.db.insert(devices).values({
      id: randomUUID(),
      tenantId,
      name: input.name,
      eid: input.eid ?? null,
      imei: input.imei ?? null,
      tags: input.tags ?? [],
      esimAgent: input.esimAgent ?? 'lpa',
      secretHash: hashDeviceSecret(secret)
    }).returning(publicColumns)
    return { device, secret }
  }

  async get (tenantId: string, id: string): Promise<PublicDevice | null> {
    const [device] = await this.db.select(publicColumns).from(devices).where(and(eq(devices.tenantId, tenantId), eq(devices.id, id)))
    return device ?? null
  }

  async list (tenantId: string, query: DeviceListQuery): Promise<{ items: PublicDevice[], nextCursor: string | null }> {
    const where: SQL[] = [eq(devices.tenantId, tenantId)]
    if (query.q !== undefined && query.q !== '') {
      const pattern = '%' + query.q.replace(/[\\%_]/g, (c) => '\\' + c) + '%'
      where.push(or(ilike(devices.name, pattern), ilike(devices.id, pattern), ilike(devices.eid, pattern), ilike(devices.imei, pattern)) as SQL)
    }
    if (query.tag !== undefined) where.push(sql`${devices.tags} @> array[${query.tag}]::text[]`)
    if (query.site !== undefined) where.push(eq(devices.site, query.site))
    if (query.operator !== undefined) {
      where.push(sql`exists (select 1 from profiles p where p.device_id = ${devices.id} and p.operator_id = ${query.operator} and p.state <> 'deleted')`)
    }
    if (query.onlyIds !== undefined) where.push(sql`${devices.id} = any(${textArray(query.onlyIds)})`)
    if (query.exceptIds !== undefined && query.exceptIds.length > 0) where.push(sql`not (${devices.id} = any(${textArray(query.exceptIds)}))`)
    if (query.cursor !== undefined) {
      const [createdAt, id] = decodeCursor(query.cursor, ['time', 'device-id'])
      where.push(sql`(${devices.createdAt}, ${devices.id}) < (${createdAt}::timestamptz, ${id})`)
    }
    const rows = await this.db.select(publicColumns).from(devices).where(and(...where))
      .orderBy(desc(devices.createdAt), desc(devices.id)).limit(query.limit + 1)
    const items = rows.slice(0, query.limit)
    const last = items.at(-1)
    const nextCursor = rows.length > query.limit && last !== undefined ? encodeCursor([last.createdAt.toISOString(), last.id]) : null
    return { items, nextCursor }
  }

  async update (tenantId: string, id: string, patch: Partial<DeviceInput>): Promise<PublicDevice | null> {
    const [device] = await this.db.update(devices).set({ ...patch, updatedAt: new Date() })
      .where(and(eq(devices.tenantId, tenantId), eq(devices.id, id))).returning(publicColumns)
    return device ?? null
  }

  /** A new random secret for the device (the old one stops working now); null when there is no such device. */
  async rotateSecret (tenantId: string, id: string): Promise<string | null> {
    const secret = randomBytes(32).toString('base64url')
    const [row] = await this.db.update(devices).set({ secretHash: hashDeviceSecret(secret), updatedAt: new Date() })
      .where(and(eq(devices.tenantId, tenantId), eq(devices.id, id))).returning({ id: devices.id })
    return row === undefined ? null : secret
  }

  async delete (tenantId: string, id: string): Promise<boolean> {
    const deleted = await this.db.delete(devices).where(and(eq(devices.tenantId, tenantId), eq(devices.id, id))).returning({ id: devices.id })
    return deleted.length > 0
  }

  async count (tenantId: string): Promise<number> {
    const [row] = await this.db.select({ n: sql<number>`count(*)::int` }).from(devices).where(eq(devices.tenantId, tenantId))
    return row.n
  }

  /** Checks a device's MQTT credentials. Unknown devices cost the same hash and compare as known ones,
   * so the answer's timing does not tell them apart. Database errors propagate (CONNECT is refused). */
  async authenticate (id: string, secret: string): Promise<{ id: string, tenantId: string } | null> {
    const [row] = await this.db.select({ id: devices.id, tenantId: devices.tenantId, secretHash: devices.secretHash, disabled: devices.disabled })
      .from(devices).where(eq(devices.id, id))
    const expected = Buffer.from(row?.secretHash ?? DUMMY_HASH, 'hex')
    const actual = Buffer.from(hashDeviceSecret(secret), 'hex')
    const match = timingSafeEqual(expected, actual)
    return row !== undefined && match && !row.disabled ? { id: row.id, tenantId: row.tenantId } : null
  }

  /** Writes the last-seen times collected in memory, in one statement. */
  async recordLastSeen (seen: Map<string, number>): Promise<void> {
    if (seen.size === 0) return
    const ids = [...seen.keys()]
    const times = ids.map((id) => new Date(seen.get(id) as number).toISOString())
    await this.database.rows(sql`update devices set last_seen_at = s.at
      from (select unnest(${textArray(ids)}) as id, unnest(${textArray(times)})::timestamptz as at) as s
      where devices.id = s.id and (devices.last_seen_at is null or devices.last_seen_at < s.at)`)
  }
}
