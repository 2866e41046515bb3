import { and, asc, eq, inArray, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { settings, tenants, totpSecrets, users, type Tenant, type User, type UserRole } from '../db/schema/index.ts'

export type PublicUser = Pick<User, 'id' | 'email' | 'role' | 'tenantId' | 'platformAdmin'>

export const DEFAULT_TENANT = 'default'

/** Users, tenants and hub settings (the identity issue adds refresh tokens, TOTP and API keys). */
export class UserRepository {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

  async findByEmail (email: string): Promise<User | null> {
    const [user] = await this.db.select().from(users).where(eq(users.email, email.toLowerCase()))
    return user ?? null
  }

  async findById (id: string): Promise<User | null> {
    const [user] = await this.db.select().from(users).where(eq(users.id, id))
    return user ?? null
  }

  async hasUsers (): Promise<boolean> {
    const rows = await this.db.select({ id: users.id }).from(users).limit(1)
    return rows.length > 0
  }

  async ensureTenant (name: string): Promise<string> {
    await this.db.insert(tenants).values({ name }).onConflictDoNothing()
    const [tenant] = await this.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, name))
    return tenant.id
  }

  async create (input: { tenantId: string, email: string, passwordHash: string, role: UserRole, platformAdmin?: boolean }): Promise<PublicUser> {
    const [user] = await this.db.insert(users).values({ ...input, email: input.email.toLowerCase() }).returning()
    return toPublicUser(user)
  }

  /** Users of one tenant (`null`: every tenant, for platform admins), with whether TOTP is on. */
  async list (tenantId: string | null): Promise<Array<User & { totpEnabled: boolean }>> {
    const rows = await this.db.select().from(users).where(tenantId === null ? undefined : eq(users.tenantId, tenantId)).orderBy(asc(users.email))
    const ids = rows.map((u) => u.id)
    const totp = ids.length === 0
      ? []
      : await this.db.select({ userId: totpSecrets.userId, confirmedAt: totpSecrets.confirmedAt }).from(totpSecrets).where(inArray(totpSecrets.userId, ids))
    const enabled = new Set(totp.filter((r) => r.confirmedAt !== null).map((r) => r.userId))
    return rows.map((u) => ({ ...u, totpEnabled: enabled.has(u.id) }))
  }

  /** A user by id within a tenant (`null`: any tenant); another tenant's user is not found. */
  async get (tenantId: string | null, id: string): Promise<User | null> {
    const where: SQL[] = [eq(users.id, id)]
    if (tenantId !== null) where.push(eq(users.tenantId, tenantId))
    const [user] = await this.db.select().from(users).where(and(...where))
    return user ?? null
  }

  async update (tenantId: string | null, id: string, patch: { role?: UserRole, disabled?: boolean }): Promise<User | null> {
    const where: SQL[] = [eq(users.id, id)]
    if (tenantId !== null) where.push(eq(users.tenantId, tenantId))
    const [user] = await this.db.update(users).set({ ...patch, updatedAt: new Date() }).where(and(...where)).returning()
    return user ?? null
  }

  async listTenants (): Promise<Tenant[]> {
    return await this.db.select().from(tenants).orderBy(asc(tenants.name))
  }

  async tenantExists (id: string): Promise<boolean> {
    const [row] = await this.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, id))
    return row !== undefined
  }

  /** Creates a tenant; null when the name is taken. */
  async createTenant (name: string): Promise<Tenant | null> {
    const [tenant] = await this.db.insert(tenants).values({ name }).onConflictDoNothing().returning()
    return tenant ?? null
  }

  /** Returns the stored setting, creating it with `create()` on first use (first writer wins). */
  async setting (key: string, create: () => string): Promise<string> {
    await this.db.insert(settings).values({ key, value: create() }).onConflictDoNothing()
    const [row] = await this.db.select().from(settings).where(eq(settings.key, key))
    return row.value
  }
}

export function toPublicUser (user: User): PublicUser {
  return { id: user.id, email: user.email, role: user.role, tenantId: user.tenantId, platformAdmin: user.platformAdmin }
}
