import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { MqttClient } from 'mqtt'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeInstallationResult, encodeOtherSignedNotification } from '../../esim/notification-encoder.ts'
import type { NotificationOperation } from '../../esim/pending-notification.ts'
import type { TestPki } from '../../esim/test-pki.ts'
import type { Teardown } from './test-hub.ts'

export const SMDP = 'smdp.example.test'

/** A directory holding `certs` as PEM files, for HUB_EUICC_TRUST_DIR. */
export function trustDir (t: Teardown, certs: Uint8Array[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'trust-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  certs.forEach((der, i) => writeFileSync(join(dir, `ci-${i}.pem`), toPem(der)))
  return dir
}

export function toPem (der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n')
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`
}

/** An eUICC of a test PKI that signs its own notifications. */
export function euiccOf (pki: TestPki) {
  return {
    eid: pki.eid,
    notification (seqNumber: number, operation: NotificationOperation, iccid?: string): Buffer {
      return Buffer.from(encodeOtherSignedNotification({
        seqNumber,
        operation,
        iccid,
        notificationAddress: SMDP,
        privateKey: pki.euicc.privateKey,
        euiccCertificateDer: pki.euicc.certificateDer,
        eumCertificateDer: pki.eum.certificateDer
      }))
    },
    installationResult (seqNumber: number, iccid: string, errorReason?: number): Buffer {
      return Buffer.from(encodeInstallationResult({
        seqNumber,
        operation: 'install',
        iccid,
        notificationAddress: SMDP,
        privateKey: pki.euicc.privateKey,
        transactionId: Buffer.from('0011223344556677', 'hex'),
        finalResult: errorReason === undefined
          ? { kind: 'success', aid: Buffer.from('A0000005591010FFFFFFFF8900001000', 'hex') }
          : { kind: 'error', bppCommandId: 1, errorReason }
      }))
    }
  }
}

export const notificationMessage = (der: Buffer) => JSON.stringify({ pendingNotification: der.toString('base64') })

export interface NotificationAck { seqNumber: number | null, status: string, reason?: string }

/** Publishes a notification message (QoS 1) and resolves with the hub's `notifications/ack`, which is
 * sent after the commit. The client must be subscribed to its `notifications/ack`. */
export async function sendNotification (client: MqttClient, deviceId: string, payload: string): Promise<NotificationAck> {
  const ack = new Promise<NotificationAck>((resolve) => {
    const onMessage = (topic: string, message: Buffer) => {
      if (topic !== `devices/${deviceId}/notifications/ack`) return
      client.off('message', onMessage)
      resolve(JSON.parse(message.toString()))
    }
    client.on('message', onMessage)
  })
  await client.publishAsync(`devices/${deviceId}/notifications`, payload, { qos: 1 })
  return await ack
}
