import { sql } from 'drizzle-orm'
import { eidForPrefix } from '../esim/eid.ts'
import { iccidForPrefix } from '../esim/iccid.ts'
import { encodeOtherSignedNotification } from '../esim/notification-encoder.ts'
import { createTestPki, issueEuiccCertificate } from '../esim/test-pki.ts'
import { startBenchHub } from './bench-hub.ts'
import { trustDirectory } from './trust-directory.ts'
import { runLoad } from './run-load.ts'

/** Verified notifications per second through the whole pipeline: MQTT QoS 1 in, DER decode, signature and
 * GSMA chain verification, dedupe, commit, profile inventory, `notifications/ack`, PUBACK. Every eUICC is
 * its own device with its own certificate. Prints one JSON line. */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 50)
const PER_DEVICE = Number(process.env.BENCH_PER_DEVICE ?? 100)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 10)

const pki = createTestPki()
const trust = trustDirectory([pki.ci.certificateDer])
const bench = await startBenchHub({ HUB_EUICC_TRUST_DIR: trust.dir })
const hub = bench.hub
try {
  const devices = []
  for (let i = 0; i < DEVICES; i++) {
    const eid = eidForPrefix(pki.eumPrefix, 1000 + i)
    const euicc = issueEuiccCertificate(pki.eum, { eid, curve: 'P-256' })
    const credentials = await bench.createDevice({ name: `bench ${i}`, eid })
    const payloads = Array.from({ length: PER_DEVICE }, (_, seq) => JSON.stringify({
      pendingNotification: Buffer.from(encodeOtherSignedNotification({
        seqNumber: seq + 1,
        operation: (['install', 'enable', 'disable', 'delete'] as const)[seq % 4],
        iccid: iccidForPrefix('899501', i * 1000 + Math.floor(seq / 4)),
        notificationAddress: 'smdp.example.test',
        privateKey: euicc.privateKey,
        euiccCertificateDer: euicc.certificateDer,
        eumCertificateDer: pki.eum.certificateDer
      })).toString('base64')
    }))
    devices.push({ ...credentials, topic: `devices/${credentials.clientId}/notifications`, payloads })
  }
  const load = await runLoad({ url: hub.mqttUrl, devices, perDevice: PER_DEVICE, window: WINDOW, baseTs: 0 })
  const [{ accepted, other }] = await hub.database.rows<{ accepted: number, other: number }>(sql`
    select count(*) filter (where status = 'accepted')::int as accepted, count(*) filter (where status <> 'accepted')::int as other from notifications`)
  console.log(JSON.stringify({
    bench: 'notifications',
    devices: DEVICES,
    notifications: DEVICES * PER_DEVICE,
    window: WINDOW,
    database: hub.database.driver,
    perSecond: Math.round(load.acked / ((load.endedAt - load.startedAt) / 1000)),
    acked: load.acked,
    accepted,
    notAccepted: other
  }))
} finally {
  await bench.close()
  trust.remove()
}
