import { ClientCertificateGate } from '../../broker/client-certificates.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { Database } from '../db/database.ts'
import { DeviceCertificateRepository } from './certificate-repository.ts'
import { parseCsr } from './csr.ts'
import { loadDeviceCa, type DeviceCa, type DeviceKeyType, type IssuedCertificate } from './device-ca.ts'
import { buildPkcs12, generateDeviceKey, newBundlePassword } from './pkcs12-bundle.ts'

export interface DeviceRef { id: string, tenantId: string }

export interface DeviceCertificatesDeps {
  database: Database
  bus: EventBus
  /** The hub's settings store (`UserRepository.setting`): where the CA is kept. */
  setting: (key: string, create: () => string) => Promise<string>
  onError: (err: Error) => void
}

export type IssuedDeviceCertificate = IssuedCertificate & { keyType: DeviceKeyType }

/** Device client certificates: the CA, issuing (from a CSR, or with a hub-made key in a PKCS#12 bundle),
 * revocation, and the gate the TLS listener checks every handshake against. Revocation takes effect in
 * this process before `revoke` returns, and in every other process when the `device.credentials-revoked`
 * event reaches it (Redis pub/sub), which reloads that device's revoked serials from the table. */
export class DeviceCertificates {
  private readonly unsubscribe: () => void

  private constructor (
    readonly ca: DeviceCa,
    readonly gate: ClientCertificateGate,
    readonly repository: DeviceCertificateRepository,
    private readonly bus: EventBus,
    onError: (err: Error) => void
  ) {
    this.unsubscribe = bus.subscribe((event) => {
      if (event.type !== 'device.credentials-revoked' || event.data.reason !== 'certificate-revoked') return
      repository.revokedSerials(event.data.deviceId).then((serials) => gate.revoke(serials), onError)
    })
  }

  static async start (deps: DeviceCertificatesDeps): Promise<DeviceCertificates> {
    const ca = await loadDeviceCa(deps.setting)
    const repository = new DeviceCertificateRepository(deps.database)
    const gate = new ClientCertificateGate(ca.certificatePem, await repository.revokedSerials())
    return new DeviceCertificates(ca, gate, repository, deps.bus, deps.onError)
  }

  /** Signs a device's CSR (throws `errors.InvalidCsr` or `errors.UnsupportedKeyType` for a bad or unsupported one). */
  async issueFromCsr (device: DeviceRef, csrPem: string): Promise<IssuedDeviceCertificate> {
    const { keyType, publicKey } = parseCsr(csrPem)
    const issued = this.ca.issue({ deviceId: device.id, publicKey })
    await this.store(device, issued, keyType)
    return { ...issued, keyType }
  }

  /** Makes a key pair, issues its certificate and returns both in a PKCS#12 bundle with a new password.
   * Neither the key nor the password is kept. */
  async issueBundle (device: DeviceRef, keyType: DeviceKeyType): Promise<IssuedDeviceCertificate & { pkcs12: Buffer, password: string }> {
    const { privateKey, publicKey } = await generateDeviceKey(keyType)
    const issued = this.ca.issue({ deviceId: device.id, publicKey })
    const password = newBundlePassword()
    const pkcs12 = buildPkcs12({ privateKey, certificateDer: issued.der, password, friendlyName: device.id })
    await this.store(device, issued, keyType)
    return { ...issued, keyType, pkcs12, password }
  }

  /** Revokes the device's certificates (or the one with `serial`); returns the serials revoked now. */
  async revoke (device: DeviceRef, serial?: string): Promise<string[]> {
    const serials = await this.repository.revoke(device.tenantId, device.id, serial)
    if (serials.length > 0) {
      this.gate.revoke(serials)
      this.bus.publish({ type: 'device.credentials-revoked', tenantId: device.tenantId, data: { deviceId: device.id, reason: 'certificate-revoked' } })
    }
    return serials
  }

  close (): void {
    this.unsubscribe()
  }

  private async store (device: DeviceRef, issued: IssuedCertificate, keyType: DeviceKeyType): Promise<void> {
    await this.repository.insert({ serial: issued.serial, deviceId: device.id, tenantId: device.tenantId, fingerprint: issued.fingerprint, keyType, der: issued.der, notAfter: issued.notAfter })
  }
}
