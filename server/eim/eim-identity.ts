import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'

/** The hub's eIM identity (SGP.32): an eimId and an ECDSA P-256 key pair, created on first start and
 * kept in the settings table (first writer wins when several processes start together). */
export interface EimIdentity {
  eimId: string
  privateKey: KeyObject
  publicKey: KeyObject
  publicKeyPem: string
}

interface StoredIdentity { eimId: string, privateKey: string }

export const EIM_SETTING = 'eim-identity'

export function newStoredIdentity (): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const stored: StoredIdentity = {
    eimId: `euicc-hub.${randomBytes(6).toString('hex')}`,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  }
  return JSON.stringify(stored)
}

/** Loads (creating on first use) the eIM identity through a `setting(key, create)` store. */
export async function loadEimIdentity (setting: (key: string, create: () => string) => Promise<string>): Promise<EimIdentity> {
  const stored = JSON.parse(await setting(EIM_SETTING, newStoredIdentity)) as StoredIdentity
  const privateKey = createPrivateKey(stored.privateKey)
  const publicKey = createPublicKey(privateKey)
  return { eimId: stored.eimId, privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string }
}
