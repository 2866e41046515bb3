import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { MAX_CSR_CHARS } from '../device-ca/csr.ts'
import type { IssuedDeviceCertificate } from '../device-ca/device-certificates.ts'
import { errors } from '../errors.ts'
import { ErrorBody, IdParams, nullable, secured } from './schemas.ts'

const KeyType = Type.Union([Type.Literal('ec-p256'), Type.Literal('rsa-2048')])

const CertificateRequest = Type.Object({
  /** PEM PKCS#10 request (ECDSA P-256 or RSA-2048). */
  csr: Type.Optional(Type.String({ maxLength: MAX_CSR_CHARS })),
  /** `pkcs12` without a CSR: the hub makes the key pair and answers with a bundle. */
  format: Type.Optional(Type.Union([Type.Literal('pem'), Type.Literal('pkcs12')])),
  /** The key the hub makes for a PKCS#12 bundle (default ec-p256). */
  keyType: Type.Optional(KeyType)
}, { additionalProperties: false })

const IssuedBody = Type.Object({
  deviceId: Type.String(),
  serial: Type.String(),
  keyType: KeyType,
  fingerprint: Type.String(),
  notBefore: Type.String({ format: 'date-time' }),
  notAfter: Type.String({ format: 'date-time' }),
  certificate: Type.String({ description: 'PEM' }),
  caCertificate: Type.String({ description: 'PEM of the device CA' }),
  pkcs12: Type.Optional(Type.String({ description: 'base64 PKCS#12 bundle (key + certificate), shown once' })),
  password: Type.Optional(Type.String({ description: 'the bundle\'s password, shown once' }))
})

const CertificateSummary = Type.Object({
  serial: Type.String(),
  keyType: KeyType,
  fingerprint: Type.String(),
  notAfter: Type.String({ format: 'date-time' }),
  revokedAt: nullable(Type.String({ format: 'date-time' })),
  createdAt: Type.String({ format: 'date-time' })
})

/** The device CA and device client certificates, scoped to the caller's tenant (another tenant's device
 * answers 404). Issuing and revoking write their own audit entries. */
export const deviceCertificateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { devices, deviceCertificates: certificates } = app
  const writers = app.requireRole('admin', 'operator')

  const deviceOf = async (request: FastifyRequest, id: string) => {
    const device = await devices.get(request.user.tid, id)
    if (device === null) throw new errors.NotFound('Device')
    return { id: device.id, tenantId: device.tenantId }
  }
  const audit = (request: FastifyRequest, action: string, target: string, detail: Record<string, unknown>) => app.audit.append({
    tenantId: request.user.tid,
    actorType: request.user.kind === 'api-key' ? 'api-key' : 'user',
    actorId: request.user.sub,
    action,
    target,
    outcome: 'success',
    detail,
    ip: request.ip
  })

  app.get('/api/device-ca', {
    schema: { tags: ['devices'], ...secured, produces: ['application/x-pem-file'], response: { 200: Type.String({ description: 'PEM' }) } }
  }, async (_request, reply) => {
    reply.type('application/x-pem-file')
    return certificates.ca.certificatePem
  })

  app.get('/api/devices/:id/certificate', {
    schema: { tags: ['devices'], ...secured, params: IdParams, response: { 200: Type.Object({ items: Type.Array(CertificateSummary) }), 404: ErrorBody } }
  }, async (request) => {
    const device = await deviceOf(request, request.params.id)
    const rows = await certificates.repository.list(device.tenantId, device.id)
    return {
      items: rows.map((r) => ({
        serial: r.serial,
        keyType: r.keyType,
        fingerprint: r.fingerprint,
        notAfter: r.notAfter.toISOString(),
        revokedAt: r.revokedAt?.toISOString() ?? null,
        createdAt: r.createdAt.toISOString()
      }))
    }
  })

  app.post('/api/devices/:id/certificate', {
    onRequest: writers,
    config: { audit: false }, // audited below, with the serial and the key type
    schema: { tags: ['devices'], ...secured, params: IdParams, body: CertificateRequest, response: { 201: IssuedBody, 400: ErrorBody, 404: ErrorBody } }
  }, async (request, reply) => {
    const { csr, format, keyType } = request.body
    if (csr !== undefined && format === 'pkcs12') throw new errors.BadRequest('a PKCS#12 bundle holds a key the hub made: send either a csr or format "pkcs12", not both')
    if (csr !== undefined && keyType !== undefined) throw new errors.BadRequest('keyType applies to a key the hub makes; a CSR brings its own')
    if (csr === undefined && format !== 'pkcs12') throw new errors.BadRequest('send a csr (PEM), or format "pkcs12" for a key made by the hub')
    const device = await deviceOf(request, request.params.id)
    let issued: IssuedDeviceCertificate & { pkcs12?: Buffer, password?: string }
    if (csr !== undefined) {
      issued = await certificates.issueFromCsr(device, csr) // a bad CSR: errors.InvalidCsr or UnsupportedKeyType
    } else {
      issued = await certificates.issueBundle(device, keyType ?? 'ec-p256')
      reply.header('cache-control', 'no-store')
    }
    await audit(request, 'device.certificate.issue', device.id, { serial: issued.serial, keyType: issued.keyType, fingerprint: issued.fingerprint, format: csr === undefined ? 'pkcs12' : 'csr', notAfter: issued.notAfter.toISOString() })
    reply.code(201)
    return {
      deviceId: device.id,
      serial: issued.serial,
      keyType: issued.keyType,
      fingerprint: issued.fingerprint,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      certificate: issued.pem,
      caCertificate: certificates.ca.certificatePem,
      ...(issued.pkcs12 === undefined ? {} : { pkcs12: issued.pkcs12.toString('base64'), password: issued.password })
    }
  })

  app.delete('/api/devices/:id/certificate', {
    onRequest: writers,
    config: { audit: false }, // audited below, with the serials revoked
    schema: {
      tags: ['devices'],
      ...secured,
      params: IdParams,
      querystring: Type.Object({ serial: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{1,64}$' })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ revoked: Type.Array(Type.String()) }), 404: ErrorBody }
    }
  }, async (request) => {
    const device = await deviceOf(request, request.params.id)
    const serial = request.query.serial === undefined ? undefined : BigInt('0x' + request.query.serial).toString(16)
    if (serial !== undefined && !(await certificates.repository.list(device.tenantId, device.id)).some((c) => c.serial === serial)) {
      throw new errors.NotFound('Certificate')
    }
    const revoked = await certificates.revoke(device, serial)
    await audit(request, 'device.certificate.revoke', device.id, { serials: revoked, ...(serial === undefined ? {} : { serial }) })
    return { revoked }
  })
}
