import { eq } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { settings, tenants, users, type User, type UserRole } from '../db/schema/index.ts'

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
