// Creates the simulated devices on a hub and keeps their credentials in the fleet file. The hub shows a
// device secret once, so the file is saved as the devices are created (and when creation fails half-way),
// and a later run reuses them instead of creating more.
import { CARRIERS } from './carriers.ts'
import type { Carrier } from './carriers.ts'
import { emptyFleet, loadFleetIfExists, saveFleet, FleetFileError } from './fleet-file.ts'
import type { EsimAgent, Fleet, FleetDevice } from './fleet-file.ts'
import { HubApiError } from './hub-api.ts'
import type { HubApi } from './hub-api.ts'
import { newEid, newImei, newProfiles } from './identity.ts'
import { Random } from './random.ts'
import { issueEuicc } from './sim-pki.ts'
import type { SimPki } from './sim-pki.ts'

export interface ProvisionOptions {
  api: HubApi
  fleetPath: string
  pki: SimPki
  /** How many devices the fleet must hold; missing ones are created. */
  count: number
  esimAgent?: EsimAgent
  tags?: string[]
  namePrefix?: string
  carriers?: readonly Carrier[]
  rng?: Random
  /** Parallel API requests (default 8). */
  concurrency?: number
  onProgress?: (created: number, wanted: number) => void
  signal?: AbortSignal
}

export interface ProvisionResult { fleet: Fleet, created: number }

const SAVE_EVERY = 100

export const sameHub = (a: string | null, b: string): boolean =>
  a !== null && a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase()

/** Makes the fleet file at `fleetPath` hold at least `count` devices of the hub behind `api`. */
export async function provisionFleet (options: ProvisionOptions): Promise<ProvisionResult> {
  const { api, pki, fleetPath } = options
  const rng = options.rng ?? new Random()
  const carriers = options.carriers ?? CARRIERS
  const eumB64 = Buffer.from(pki.eum.certificateDer).toString('base64')
  const fleet = await loadFleetIfExists(fleetPath) ?? emptyFleet(pki.eum.certificateDer, pki.ci.certificateDer, api.baseUrl)
  if (fleet.devices.length > 0 && !sameHub(fleet.httpUrl, api.baseUrl)) {
    throw new FleetFileError(`${fleetPath} holds devices of the hub at ${fleet.httpUrl}, not ${api.baseUrl}; choose another --fleet file`)
  }
  if (fleet.devices.length > 0 && fleet.eumCertificate !== eumB64) {
    throw new FleetFileError(`${fleetPath} was made with another PKI than the one given; choose another --fleet or --pki file`)
  }
  fleet.httpUrl = api.baseUrl
  fleet.eumCertificate = eumB64
  fleet.ciCertificate = Buffer.from(pki.ci.certificateDer).toString('base64')
  fleet.eim = await api.eim().catch(() => null) ?? fleet.eim

  const missing = Math.max(0, options.count - fleet.devices.length)
  if (missing === 0) {
    await saveFleet(fleetPath, fleet)
    return { fleet, created: 0 }
  }
  let next = fleet.devices.length
  const end = options.count
  let created = 0
  let unsaved = 0
  let saving: Promise<void> = Promise.resolve()
  const save = () => { saving = saving.then(() => saveFleet(fleetPath, fleet)); return saving }

  const createOne = async (index: number): Promise<FleetDevice> => {
    const deviceRng = rng.fork()
    const name = `${options.namePrefix ?? 'sim'}-${String(index + 1).padStart(5, '0')}`
    const imei = newImei(deviceRng)
    for (let attempt = 0; ; attempt++) {
      const eid = newEid(deviceRng, pki.eumPrefix)
      try {
        const { device, credentials } = await api.createDevice({ name, eid, imei, tags: options.tags ?? ['device-sim'], esimAgent: options.esimAgent ?? 'lpa' })
        if (credentials.mqttUrl !== undefined && credentials.mqttUrl !== '') fleet.mqttUrl = credentials.mqttUrl
        const euicc = issueEuicc(pki, eid)
        return {
          id: device.id,
          secret: credentials.password,
          name,
          eid,
          imei,
          esimAgent: options.esimAgent ?? 'lpa',
          euiccKey: euicc.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          euiccCertificate: Buffer.from(euicc.certificateDer).toString('base64'),
          profiles: newProfiles(deviceRng, carriers),
          nextSeqNumber: 1,
          eimCounter: 0,
          pendingNotifications: []
        }
      } catch (err) {
        // An EID taken already (a leftover of an earlier fleet): draw another once.
        if (err instanceof HubApiError && err.status === 409 && attempt === 0) continue
        throw err
      }
    }
  }

  const worker = async (): Promise<void> => {
    while (next < end && options.signal?.aborted !== true) {
      const index = next++
      fleet.devices.push(await createOne(index))
      created++
      options.onProgress?.(created, missing)
      if (++unsaved >= SAVE_EVERY) { unsaved = 0; await save() }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, missing)) }, worker))
  } finally {
    // Whatever was created is kept, even when a request failed: the secrets cannot be read again.
    await save()
  }
  return { fleet, created }
}
