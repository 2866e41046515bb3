// Test support for the simulator: a bare MQTT broker the test fully controls (to drive acks,
// commands and dropped connections without depending on the hub's pipelines), a fleet made without a hub,
// and a tap on what devices publish to a hub.
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import type { Client } from 'aedes'
import { CARRIERS } from '../../device-sim/carriers.ts'
import { emptyFleet } from '../../device-sim/fleet-file.ts'
import type { Fleet } from '../../device-sim/fleet-file.ts'
import { newEid, newImei, newProfiles } from '../../device-sim/identity.ts'
import { Random } from '../../device-sim/random.ts'
import { issueEuicc } from '../../device-sim/sim-pki.ts'
import type { SimPki } from '../../device-sim/sim-pki.ts'
import type { Teardown, TestHub } from '../helpers/test-hub.ts'

export interface Published { clientId: string, topic: string, payload: Buffer }

/** Every publish of a device that passed the broker's checks, in order. */
export class PublishLog {
  readonly items: Published[] = []

  of (clientId: string, suffix: string): Published[] {
    return this.items.filter((p) => p.clientId === clientId && p.topic.endsWith(suffix))
  }

  all (suffix: string): Published[] {
    return this.items.filter((p) => p.topic.endsWith(suffix))
  }

  json<T = any>(clientId: string, suffix: string): T[] {
    return this.of(clientId, suffix).map((p) => JSON.parse(p.payload.toString()) as T)
  }
}

function tap (aedes: Aedes): PublishLog {
  const log = new PublishLog()
  aedes.on('publish', (packet, client) => {
    if (client !== null && client !== undefined) log.items.push({ clientId: client.id, topic: packet.topic, payload: Buffer.from(packet.payload as Buffer) })
  })
  return log
}

/** What the devices publish to a hub, whatever the hub then does with it. */
export const tapHub = (hub: TestHub): PublishLog => tap(hub.broker.aedes)

export interface BareBroker {
  url: string
  aedes: Aedes
  log: PublishLog
  /** Publishes to a device as a hub would (QoS 1). */
  send (topic: string, body: unknown): Promise<void>
  client (clientId: string): Client | undefined
}

/** A plain Aedes broker on a free loopback port: devices authenticate with the secrets given. */
export async function startBareBroker (t: Teardown, secrets: Map<string, string>): Promise<BareBroker> {
  const aedes = new Aedes({
    authenticate: (client, username, password, callback) => {
      const ok = username === client.id && secrets.get(client.id) === password?.toString()
      callback(ok ? null : Object.assign(new Error('bad user name or password'), { returnCode: 4 }), ok)
    }
  })
  await aedes.listen()
  const server = createServer((socket) => aedes.handle(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.close()
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
  })
  const log = tap(aedes)
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    aedes,
    log,
    send: (topic, body) => publishTo(aedes, topic, body),
    client: (clientId) => (aedes as unknown as { clients: Record<string, Client> }).clients[clientId]
  }
}

function publishTo (aedes: Aedes, topic: string, body: unknown): Promise<void> {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, (err) => { if (err === undefined || err === null) resolve(); else reject(err) })
  })
}

/** Publishes as the hub to one of its devices (the hub's own acks and commands look the same). */
export const publishToDevice = (hub: TestHub, topic: string, body: unknown): Promise<void> => publishTo(hub.broker.aedes, topic, body)

/** A fleet of `count` devices made locally (no hub): ids, secrets, EIDs, keys and profiles. */
export function localFleet (pki: SimPki, count: number, seed = 1): { fleet: Fleet, secrets: Map<string, string> } {
  const rng = new Random(seed)
  const fleet = emptyFleet(pki.eum.certificateDer, pki.ci.certificateDer)
  const secrets = new Map<string, string>()
  for (let i = 0; i < count; i++) {
    const id = `dev-${i}-${randomBytes(3).toString('hex')}`
    const secret = randomBytes(16).toString('hex')
    const eid = newEid(rng, pki.eumPrefix)
    const euicc = issueEuicc(pki, eid)
    secrets.set(id, secret)
    fleet.devices.push({
      id,
      secret,
      name: `local-${i}`,
      eid,
      imei: newImei(rng),
      esimAgent: 'lpa',
      euiccKey: euicc.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      euiccCertificate: Buffer.from(euicc.certificateDer).toString('base64'),
      profiles: newProfiles(rng, CARRIERS),
      nextSeqNumber: 1,
      eimCounter: 0,
      pendingNotifications: []
    })
  }
  return { fleet, secrets }
}
