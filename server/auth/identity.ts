import type { Redis } from 'ioredis'
import type { Database } from '../db/database.ts'
import { ApiKeyStore } from './api-key-store.ts'
import { MemoryAttemptCounters, RedisAttemptCounters } from './attempt-counters.ts'
import { LoginGuard } from './login-guard.ts'
import { MemoryRevocationList, RedisRevocationList, type RevocationList } from './revocation-list.ts'
import { SessionStore } from './session-store.ts'
import { TotpStore } from './totp-store.ts'

/** Everything identity needs beyond the user table: sessions, revocations, login limits, TOTP, API keys.
 * Shared state lives in Redis when the hub has it, so several hub processes agree. */
export interface Identity {
  revocations: RevocationList
  sessions: SessionStore
  guard: LoginGuard
  totp: TotpStore
  apiKeys: ApiKeyStore
}

/** `namespace`: the deployment's installation id (kept in the database), so hubs on different databases
 * that share a Redis never see each other's counters or revocations. */
export function createIdentity (database: Database, redis: Redis | null, namespace: string): Identity {
  const revocations = redis === null ? new MemoryRevocationList() : new RedisRevocationList(redis, namespace)
  const counters = redis === null ? new MemoryAttemptCounters() : new RedisAttemptCounters(redis, namespace)
  return {
    revocations,
    sessions: new SessionStore(database, revocations),
    guard: new LoginGuard(counters),
    totp: new TotpStore(database),
    apiKeys: new ApiKeyStore(database, revocations)
  }
}
