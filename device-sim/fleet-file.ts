// The fleet file: the credentials of the devices the simulator created on a hub (secrets are shown once
// by the hub, so they are written here as soon as they arrive), each device's eUICC key and certificate,
// and the eUICC state a run leaves behind (profiles, sequence numbers, unacknowledged notifications).
import { createPrivateKey, X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { isValidEid } from '../esim/eid.ts'
import { isValidIccid } from '../esim/iccid.ts'
import type { SimProfile } from './identity.ts'
import { readJsonFile, writeSecretFile } from './secret-file.ts'

export type EsimAgent = 'lpa' | 'ipa'

export interface StoredNotification { seqNumber: number, der: string }

/** The eUICC state carried from one run to the next. */
export interface EuiccState {
  profiles: SimProfile[]
  /** The next notification sequence number (an eUICC never reuses one). */
  nextSeqNumber: number
  /** The highest eIM counter value accepted (SGP.32 replay protection). */
  eimCounter: number
  pendingNotifications: StoredNotification[]
}

export interface FleetDevice extends EuiccState {
  id: string
  secret: string
  name: string
  eid: string
  imei: string
  esimAgent: EsimAgent
  /** PKCS#8 PEM. */
  euiccKey: string
  /** Base64 DER. */
  euiccCertificate: string
}

export interface EimIdentity { eimId: string, publicKey: string }

export interface Fleet {
  version: 1
  kind: 'device-sim-fleet'
  /** The hub the devices were created on. */
  httpUrl: string | null
  mqttUrl: string | null
  /** Base64 DER of the EUM certificate (sent in every other-signed notification) and of the CI. */
  eumCertificate: string
  ciCertificate: string
  /** The hub's eIM identity (GET /api/eim), for checking SGP.32 packages. */
  eim: EimIdentity | null
  devices: FleetDevice[]
}

export class FleetFileError extends Error {
  readonly code = 'SIM_ERR_FLEET_FILE'
  override readonly name = 'FleetFileError'
}

export function emptyFleet (eumCertificateDer: Uint8Array, ciCertificateDer: Uint8Array, httpUrl: string | null = null): Fleet {
  return {
    version: 1,
    kind: 'device-sim-fleet',
    httpUrl,
    mqttUrl: null,
    eumCertificate: Buffer.from(eumCertificateDer).toString('base64'),
    ciCertificate: Buffer.from(ciCertificateDer).toString('base64'),
    eim: null,
    devices: []
  }
}

export async function saveFleet (path: string, fleet: Fleet): Promise<void> {
  await writeSecretFile(path, JSON.stringify(fleet) + '\n')
}

export async function loadFleet (path: string): Promise<Fleet> {
  return validateFleet(await readJsonFile(path), path)
}

export async function loadFleetIfExists (path: string): Promise<Fleet | null> {
  return existsSync(path) ? await loadFleet(path) : null
}

const isString = (v: unknown): v is string => typeof v === 'string' && v !== ''
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/** Checks the shape of a fleet file, naming the first bad entry. */
export function validateFleet (json: unknown, source = 'fleet file'): Fleet {
  const f = json as Partial<Fleet> | null
  if (f === null || typeof f !== 'object' || f.kind !== 'device-sim-fleet' || f.version !== 1) {
    throw new FleetFileError(`${source} is not a device-sim fleet file (version 1)`)
  }
  if (!isString(f.eumCertificate) || !isString(f.ciCertificate) || !Array.isArray(f.devices)) {
    throw new FleetFileError(`${source}: eumCertificate, ciCertificate or devices is missing`)
  }
  const ids = new Set<string>()
  f.devices.forEach((d, i) => {
    const bad = (what: string): never => { throw new FleetFileError(`${source}: device ${i} (${String(d?.id)}) has ${what}`) }
    if (d === null || typeof d !== 'object') bad('no record')
    if (!isString(d.id) || !isString(d.secret)) bad('no id or secret')
    if (ids.has(d.id)) bad('a duplicate id')
    ids.add(d.id)
    if (!isValidEid(d.eid)) bad('an invalid EID')
    if (!/^\d{15}$/.test(d.imei)) bad('an invalid IMEI')
    if (d.esimAgent !== 'lpa' && d.esimAgent !== 'ipa') bad('an unknown esimAgent')
    if (!isString(d.euiccKey) || !isString(d.euiccCertificate)) bad('no eUICC key or certificate')
    if (!Array.isArray(d.profiles) || d.profiles.some((p) => !isValidIccid(p?.iccid) || (p.state !== 'enabled' && p.state !== 'disabled'))) bad('invalid profiles')
    if (!isCount(d.nextSeqNumber) || !isCount(d.eimCounter)) bad('an invalid counter')
    if (!Array.isArray(d.pendingNotifications) || d.pendingNotifications.some((n) => !isCount(n?.seqNumber) || !isString(n.der))) bad('invalid pending notifications')
  })
  return f as Fleet
}

/** The key and certificate of a stored device, parsed. */
export function deviceKeys (device: FleetDevice): { privateKey: KeyObject, certificateDer: Uint8Array } {
  try {
    const privateKey = createPrivateKey(device.euiccKey)
    const certificateDer = new Uint8Array(Buffer.from(device.euiccCertificate, 'base64'))
    if (!new X509Certificate(certificateDer).checkPrivateKey(privateKey)) throw new Error('key and certificate do not match')
    return { privateKey, certificateDer }
  } catch (err) {
    throw new FleetFileError(`device ${device.id}: unusable eUICC key or certificate (${(err as Error).message})`)
  }
}
