// The simulator's eUICC PKI: a test CI and EUM (esim/test-pki.ts), kept in a JSON file with their
// private keys so every run issues eUICC certificates under the same CI, the one a hub is told to trust.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createTestCi, issueEuiccCertificate, issueEumCertificate } from '../esim/test-pki.ts'
import type { TestCurve, TestIdentity } from '../esim/test-pki.ts'
import { keyIdentifier } from '../esim/x509-builder.ts'
import type { NameInput } from '../esim/x509-builder.ts'
import { readJsonFile, writeSecretFile } from './secret-file.ts'

export interface SimPki {
  curve: TestCurve
  eumPrefix: string
  organisation: string
  ci: TestIdentity
  eum: TestIdentity
}

export interface SimPkiOptions {
  curve?: TestCurve
  /** The EID prefix the EUM may issue (default 89049032, as in SGP.26). */
  eumPrefix?: string
  organisation?: string
}

export interface IssuedEuicc {
  privateKey: KeyObject
  certificateDer: Uint8Array
}

interface IdentityJson { name: Array<[string, string]>, certificate: string, privateKey: string }
interface PkiJson {
  version: 1
  kind: 'device-sim-pki'
  curve: TestCurve
  eumPrefix: string
  organisation: string
  ci: IdentityJson
  eum: IdentityJson
}

export class PkiFileError extends Error {
  readonly code = 'SIM_ERR_PKI_FILE'
  override readonly name = 'PkiFileError'
}

export function createSimPki (options: SimPkiOptions = {}): SimPki {
  const curve = options.curve ?? 'P-256'
  const eumPrefix = options.eumPrefix ?? '89049032'
  const organisation = options.organisation ?? 'device-sim EUM'
  const ci = createTestCi(curve, 'device-sim Test CI')
  const eum = issueEumCertificate(ci, { curve, organisation, eumPrefix, eumRange: 'name-constraints' })
  return { curve, eumPrefix, organisation, ci, eum }
}

/** A new eUICC key pair and certificate for `eid` (which must start with the EUM's prefix). */
export function issueEuicc (pki: SimPki, eid: string): IssuedEuicc {
  if (!eid.startsWith(pki.eumPrefix)) throw new RangeError(`EID ${eid} is outside the EUM's prefix ${pki.eumPrefix}`)
  const euicc = issueEuiccCertificate(pki.eum, { eid, curve: pki.curve })
  return { privateKey: euicc.privateKey, certificateDer: euicc.certificateDer }
}

export function certificatePem (der: Uint8Array): string {
  return new X509Certificate(der).toString()
}

export function pkiToJson (pki: SimPki): PkiJson {
  const identity = (id: TestIdentity): IdentityJson => ({
    name: id.name.map(([type, value]) => [type, value]),
    certificate: certificatePem(id.certificateDer),
    privateKey: id.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  })
  return { version: 1, kind: 'device-sim-pki', curve: pki.curve, eumPrefix: pki.eumPrefix, organisation: pki.organisation, ci: identity(pki.ci), eum: identity(pki.eum) }
}

export function pkiFromJson (json: unknown, source = 'PKI file'): SimPki {
  const j = json as Partial<PkiJson> | null
  if (j === null || typeof j !== 'object' || j.kind !== 'device-sim-pki' || j.version !== 1) {
    throw new PkiFileError(`${source} is not a device-sim PKI file (version 1)`)
  }
  if ((j.curve !== 'P-256' && j.curve !== 'brainpoolP256r1') || typeof j.eumPrefix !== 'string' || typeof j.organisation !== 'string') {
    throw new PkiFileError(`${source}: curve, eumPrefix or organisation is missing`)
  }
  const identity = (id: IdentityJson | undefined, role: string): TestIdentity => {
    try {
      if (id === undefined || !Array.isArray(id.name)) throw new Error('missing')
      const privateKey = createPrivateKey(id.privateKey)
      const publicKey = createPublicKey(privateKey)
      const certificate = new X509Certificate(id.certificate)
      if (!certificate.checkPrivateKey(privateKey)) throw new Error('the private key does not match the certificate')
      const name: NameInput = id.name.map(([type, value]) => [String(type), String(value)] as const)
      return { name, privateKey, publicKey, keyId: keyIdentifier(publicKey), certificateDer: new Uint8Array(certificate.raw) }
    } catch (err) {
      throw new PkiFileError(`${source}: the ${role} entry is unusable (${(err as Error).message})`)
    }
  }
  return { curve: j.curve, eumPrefix: j.eumPrefix, organisation: j.organisation, ci: identity(j.ci, 'ci'), eum: identity(j.eum, 'eum') }
}

export async function savePki (path: string, pki: SimPki): Promise<void> {
  await writeSecretFile(path, JSON.stringify(pkiToJson(pki), null, 2) + '\n')
}

export async function loadPki (path: string): Promise<SimPki> {
  return pkiFromJson(await readJsonFile(path), path)
}

/** Reads the PKI at `path`, or creates and saves one when the file does not exist yet. */
export async function loadOrCreatePki (path: string, options: SimPkiOptions = {}): Promise<{ pki: SimPki, created: boolean }> {
  if (existsSync(path)) return { pki: await loadPki(path), created: false }
  const pki = createSimPki(options)
  await savePki(path, pki)
  return { pki, created: true }
}
