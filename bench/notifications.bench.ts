import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { eidForPrefix } from '../esim/eid.ts'
import { iccidForPrefix } from '../esim/iccid.ts'
import { encodeOtherSignedNotification } from '../esim/notification-encoder.ts'
import { createTestPki, issueEuiccCertificate } from '../esim/test-pki.ts'
import { benchDatabases, startBenchHub } from './bench-hub.ts'
import { printLine, ratioCheck } from './bench-line.ts'
import { trustDirectory } from './trust-directory.ts'
import { runLoad } from './run-load.ts'

/** Verified notifications per second through the whole pipeline: MQTT QoS 1 in, DER decode, signature and
 * GSMA chain verification, dedupe, commit, profile inventory, `notifications/ack`, PUBACK. Every eUICC is
 * its own device with its own certificate. The reference, measured in this process just before each run:
 * bare P-256 ECDSA verifies per second on one core (node:crypto, SHA-256, a KeyObject, a message of a
 * notification's size); target ≥ 0.5× of it. One JSON line per database of BENCH_DATABASES. */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 50)
const PER_DEVICE = Number(process.env.BENCH_PER_DEVICE ?? 100)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 10)

const TARGET = 0.5
const VERIFY_MS = Number(process.env.BENCH_VERIFY_MS ?? 1500)

/** Bare P-256 verifies per second on this thread (one core), after a short warm-up. */
function bareVerifiesPerSecond (): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const data = Buffer.alloc(160, 7)
  const signature = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
  const run = (ms: number): number => {
    let n = 0
    const t0 = performance.now()
    while (performance.now() - t0 < ms) {
      for (let i = 0; i < 20; i++) if (verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) n++
    }
    return n / ((performance.now() - t0) / 1000)
  }
  run(200)
  return run(VERIFY_MS)
}

const pki = createTestPki()
const trust = trustDirectory([pki.ci.certificateDer])
try {
  for (const database of await benchDatabases()) {
    const details = { devices: DEVICES, notifications: DEVICES * PER_DEVICE, window: WINDOW, database: database.name }
    if (database.unavailable !== undefined) {
      printLine('notifications', { ...details, skipped: database.unavailable }, [])
      continue
    }
    await once(database.serverUrl, details)
  }
} finally {
  trust.remove()
}

async function once (serverUrl: string | undefined, details: Record<string, unknown>): Promise<void> {
  const bareVerifies = bareVerifiesPerSecond()
  const bench = await startBenchHub({ HUB_EUICC_TRUST_DIR: trust.dir }, serverUrl)
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
    const perSecond = load.acked / ((load.endedAt - load.startedAt) / 1000)
    printLine('notifications', {
      ...details,
      perSecond: Math.round(perSecond),
      bareP256VerifiesPerSecond: Math.round(bareVerifies),
      ratio: Number((perSecond / bareVerifies).toFixed(3)),
      acked: load.acked,
      accepted,
      notAccepted: other
    }, [ratioCheck('perSecond', perSecond, 'verified/s', 'bare node:crypto P-256 verifies, 1 core', bareVerifies, TARGET)])
  } finally {
    await bench.close()
  }
}
