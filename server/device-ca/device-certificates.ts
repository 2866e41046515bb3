import { ClientCertificateGate } from '../../broker/client-certificates.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { Database } from '../db/database.ts'
import { DeviceCertificateRepository } from './certificate-repository.ts'
import { parseCsr } from './csr.ts'
import { loadDeviceCa, type CertificateHolder, type DeviceCa, type DeviceKeyType, type IssuedCertificate } from './device-ca.ts'
import { GatewayCertificateRepository } from './gateway-certificate-repository.ts'
import { buildPkcs12, generateDeviceKey, newBundlePassword } from './pkcs12-bundle.ts'

/** Whom a certificate is for: a device, or a site gateway (`kind`), of a tenant. */
export interface CertificateOwner { kind: 'device' | 'gateway', id: string, tenantId: string }

export interface DeviceCertificatesDeps {
  database: Database
  bus: EventBus
  /** The hub's settings store (`UserRepository.setting`): where the CA is kept. */
  setting: (key: string, create: () => string) => Promise<string>
  onError: (err: Error) => void
}

export type IssuedDeviceCertificate = IssuedCertificate & { keyType: DeviceKeyType }

/** The device CA's client certificates, of devices and of site gateways: the CA, issuing (from a CSR,
 * or with a hub-made key in a PKCS#12 bundle), revocation, and the gate the TLS listener checks every
 * handshake against. Revocation takes effect in this process before `revoke` returns, and in every
 * other process when the `device.credentials-revoked` (or `gateway.revoked`) event reaches it (Redis
 * pub/sub), which reloads that holder's revoked serials from its table. */
export class DeviceCertificates {
  private readonly unsubscribe: () => void
  /** The site gateways' certificates (`repository` is the devices'). */
  readonly gatewayRepository: GatewayCertificateRepository

  private constructor (
    readonly ca: DeviceCa,
    readonly gate: ClientCertificateGate,
    readonly repository: DeviceCertificateRepository,
    database: Database,
    private readonly bus: EventBus,
    onError: (err: Error) => void
  ) {
    const gateways = this.gatewayRepository = new GatewayCertificateRepository(database)
    this.unsubscribe = bus.subscribe((event) => {
      if (event.type === 'gateway.revoked') gateways.revokedSerials(event.data.gatewayId).then((serials) => gate.revoke(serials), onError)
      if (event.type !== 'device.credentials-revoked' || event.data.reason !== 'certificate-revoked') return
      repository.revokedSerials(event.data.deviceId).then((serials) => gate.revoke(serials), onError)
    })
  }

  static async start (deps: DeviceCertificatesDeps): Promise<DeviceCertificates> {
    const ca = await loadDeviceCa(deps.setting)
    const repository = new DeviceCertificateRepository(deps.database)
    const gate = new ClientCertificateGate(ca.certificatePem, await repository.revokedSerials())
    return new DeviceCertificates(ca, gate, repository, deps.database, deps.bus, deps.onError)
  }

  /** Signs a CSR (throws `errors.InvalidCsr` or `errors.UnsupportedKeyType` for a bad or unsupported one). */
  async issueFromCsr (owner: CertificateOwner, csrPem: string): Promise<IssuedDeviceCertificate> {
    const { keyType, publicKey } = parseCsr(csrPem)
    const issued = this.ca.issue({ ...holderOf(owner), publicKey })
    await this.store(owner, issued, keyType)
    return { ...issued, keyType }
  }

  /** Makes a key pair, issues its certificate and returns both in a PKCS#12 bundle with a new password.
   * Neither the key nor the password is kept. */
  async issueBundle (owner: CertificateOwner, keyType: DeviceKeyType): Promise<IssuedDeviceCertificate & { pkcs12: Buffer, password: string }> {
    const { privateKey, publicKey } = await generateDeviceKey(keyType)
    const issued = this.ca.issue({ ...holderOf(owner), publicKey })
    const password = newBundlePassword()
    const pkcs12 = buildPkcs12({ privateKey, certificateDer: issued.der, password, friendlyName: owner.id })
    await this.store(owner, issued, keyType)
    return { ...issued, keyType, pkcs12, password }
  }

  /** The owner's certificates (revoked ones too), without their DER. */
  async list (owner: CertificateOwner): Promise<Array<{ serial: string, keyType: DeviceKeyType, fingerprint: string, notAfter: Date, revokedAt: Date | null, createdAt: Date }>> {
    return owner.kind === 'device'
      ? await this.repository.list(owner.tenantId, owner.id)
      : await this.gatewayRepository.list(owner.tenantId, owner.id)
  }

  /** Revokes the owner's certificates (or the one with `serial`); returns the serials revoked now. The
   * connections made with them close, and the owner's sessions end on every process. */
  async revoke (owner: CertificateOwner, serial?: string): Promise<string[]> {
    const serials = owner.kind === 'device'
      ? await this.repository.revoke(owner.tenantId, owner.id, serial)
      : await this.gatewayRepository.revoke(owner.tenantId, owner.id, serial)
    if (serials.length > 0) {
      this.gate.revoke(serials)
      this.bus.publish(owner.kind === 'device'
        ? { type: 'device.credentials-revoked', tenantId: owner.tenantId, data: { deviceId: owner.id, reason: 'certificate-revoked' } }
        : { type: 'gateway.revoked', tenantId: owner.tenantId, data: { gatewayId: owner.id } })
    }
    return serials
  }

  close (): void {
    this.unsubscribe()
  }

  private async store (owner: CertificateOwner, issued: IssuedCertificate, keyType: DeviceKeyType): Promise<void> {
    const row = { serial: issued.serial, tenantId: owner.tenantId, fingerprint: issued.fingerprint, keyType, der: issued.der, notAfter: issued.notAfter }
    if (owner.kind === 'device') await this.repository.insert({ ...row, deviceId: owner.id })
    else await this.gatewayRepository.insert({ ...row, gatewayId: owner.id })
  }
}

const holderOf = (owner: CertificateOwner): CertificateHolder => owner.kind === 'device' ? { deviceId: owner.id } : { gatewayId: owner.id }
