import type { User } from './types.ts'

export interface Session {
  accessToken: string
  user: User
}

const storageKey = 'euicc-hub.session'

/**
 * The signed-in user and their access token. The token lives in memory and in
 * sessionStorage (so a reload of the tab keeps the user signed in, while a new
 * tab or a closed browser does not).
 */
export class SessionStore {
  #session: Session | null
  readonly #listeners = new Set<(session: Session | null) => void>()
  readonly #storage: Storage | undefined

  constructor (storage: Storage | undefined = globalThis.sessionStorage) {
    this.#storage = storage
    this.#session = readStored(storage)
  }

  get current (): Session | null {
    return this.#session
  }

  set (session: Session): void {
    this.#session = session
    try {
      this.#storage?.setItem(storageKey, JSON.stringify(session))
    } catch {
      // storage full or disabled: the session still lives in memory
    }
    this.#emit()
  }

  /** Replaces the access token of the current session (after a refresh). */
  updateToken (accessToken: string): void {
    if (this.#session) this.set({ ...this.#session, accessToken })
  }

  clear (): void {
    if (this.#session === null) return
    this.#session = null
    try {
      this.#storage?.removeItem(storageKey)
    } catch {}
    this.#emit()
  }

  subscribe (listener: (session: Session | null) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  #emit (): void {
    for (const listener of this.#listeners) listener(this.#session)
  }
}

function readStored (storage: Storage | undefined): Session | null {
  try {
    const raw = storage?.getItem(storageKey)
    if (!raw) return null
    const value = JSON.parse(raw) as Partial<Session>
    if (typeof value.accessToken === 'string' && value.user && typeof value.user.id === 'string') {
      return value as Session
    }
  } catch {}
  return null
}
