import { randomBytes } from 'node:crypto'
import type { UserRepository } from '../repositories/user-repository.ts'
import { DEFAULT_TENANT } from '../repositories/user-repository.ts'
import { hashPassword } from './passwords.ts'

export interface BootstrapResult {
  tenantId: string
  /** Set when this start created the first admin; the password only when it was generated. */
  created: { email: string, generatedPassword: string | null } | null
}

/** On first start: the default tenant and the first admin, from HUB_ADMIN_EMAIL / HUB_ADMIN_PASSWORD or
 * generated (the caller prints a generated password once; it is never stored in clear). */
export async function bootstrapAdmin (repo: UserRepository, email: string | null, password: string | null): Promise<BootstrapResult> {
  const tenantId = await repo.ensureTenant(DEFAULT_TENANT)
  if (await repo.hasUsers()) return { tenantId, created: null }
  const adminEmail = email ?? 'admin@localhost'
  const generated = password === null ? randomBytes(18).toString('base64url') : null
  await repo.create({
    tenantId,
    email: adminEmail,
    passwordHash: await hashPassword(password ?? generated as string),
    role: 'admin',
    platformAdmin: true
  })
  return { tenantId, created: { email: adminEmail, generatedPassword: generated } }
}
