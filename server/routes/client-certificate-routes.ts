import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { MAX_CSR_CHARS } from '../device-ca/csr.ts'
import type { CertificateOwner, IssuedDeviceCertificate } from '../device-ca/device-certificates.ts'
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

const issuedFields = {
  serial: Type.String(),
  keyType: KeyType,
  fingerprint: Type.String(),
  notBefore: Type.String({ format: 'date-time' }),
  notAfter: Type.String({ format: 'date-time' }),
  certificate: Type.String({ description: 'PEM' }),
  caCertificate: Type.String({ description: 'PEM of the device CA' }),
  pkcs12: Type.Optional(Type.String({ description: 'base64 PKCS#12 bundle (key + certificate), shown once' })),
  password: Type.Optional(Type.String({ description: 'the bundle\'s password, shown once' }))
}

const CertificateSummary = Type.Object({
  serial: Type.String(),
  keyType: KeyType,
  fingerprint: Type.String(),
  notAfter: Type.String({ format: 'date-time' }),
  revokedAt: nullable(Type.String({ format: 'date-time' })),
  createdAt: Type.String({ format: 'date-time' })
})

const SerialQuery = Type.Object({ serial: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{1,64}$' })) }, { additionalProperties: false })

export interface CertificateRoutesOptions {
  /** `devices` or `gateways`: the routes are `/api/<resource>/:id/certificate`, the OpenAPI tag the same. */
  resource: 'devices' | 'gateways'
  kind: CertificateOwner['kind']
  /** What a 404 names (`Device not found`). */
  noun: 'Device' | 'Gateway'
  /** The owner's id field in the issuing answer. */
  idField: 'deviceId' | 'gatewayId'
  /** The owner in the caller's tenant, or null. */
  find: (tenantId: string, id: string) => Promise<{ id: string, tenantId: string } | null>
}

/** Client certificates from the hub's device CA for one kind of owner (a device, a site gateway),
 * scoped to the caller's tenant (another tenant's owner answers 404): list, issue (from a CSR, or a
 * PKCS#12 bundle with a key the hub makes), revoke. Admins and operators issue and revoke; each is
 * audited as `<kind>.certificate.issue` / `<kind>.certificate.revoke`. Registered once per kind by
 * device-certificate-routes.ts and gateway-routes.ts. */
export const clientCertificateRoutes: FastifyPluginAsyncTypebox<CertificateRoutesOptions> = async (app, options) => {
  const { deviceCertificates: certificates } = app
  const { resource, kind, noun, idField } = options
  const writers = app.requireRole('admin', 'operator')
  const path = `/api/${resource}/:id/certificate`

  const ownerOf = async (request: FastifyRequest, id: string): Promise<CertificateOwner> => {
    const owner = await options.find(request.user.tid, id)
    if (owner === null) throw new errors.NotFound(noun)
    return { kind, id: owner.id, tenantId: owner.tenantId }
  }
  const audit = (request: FastifyRequest, action: 'issue' | 'revoke', target: string, detail: Record<string, unknown>) => app.audit.append({
    tenantId: request.user.tid,
    actorType: request.user.kind === 'api-key' ? 'api-key' : 'user',
    actorId: request.user.sub,
    action: `${kind}.certificate.${action}`,
    target,
    outcome: 'success',
    detail,
    ip: request.ip
  })

  app.get(path, {
    schema: { tags: [resource], ...secured, params: IdParams, response: { 200: Type.Object({ items: Type.Array(CertificateSummary) }), 404: ErrorBody } }
  }, async (request) => {
    const rows = await certificates.list(await ownerOf(request, request.params.id))
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

  app.post(path, {
    onRequest: writers,
    config: { audit: false }, // audited below, with the serial and the key type
    schema: {
      tags: [resource],
      ...secured,
      params: IdParams,
      body: CertificateRequest,
      response: { 201: Type.Object({ [idField]: Type.String(), ...issuedFields }), 400: ErrorBody, 404: ErrorBody }
    }
  }, async (request, reply) => {
    const { csr, format, keyType } = request.body
    if (csr !== undefined && format === 'pkcs12') throw new errors.BadRequest('a PKCS#12 bundle holds a key the hub made: send either a csr or format "pkcs12", not both')
    if (csr !== undefined && keyType !== undefined) throw new errors.BadRequest('keyType applies to a key the hub makes; a CSR brings its own')
    if (csr === undefined && format !== 'pkcs12') throw new errors.BadRequest('send a csr (PEM), or format "pkcs12" for a key made by the hub')
    const owner = await ownerOf(request, request.params.id)
    let issued: IssuedDeviceCertificate & { pkcs12?: Buffer, password?: string }
    if (csr !== undefined) {
      issued = await certificates.issueFromCsr(owner, csr) // a bad CSR: errors.InvalidCsr or UnsupportedKeyType
    } else {
      issued = await certificates.issueBundle(owner, keyType ?? 'ec-p256')
      reply.header('cache-control', 'no-store')
    }
    await audit(request, 'issue', owner.id, { serial: issued.serial, keyType: issued.keyType, fingerprint: issued.fingerprint, format: csr === undefined ? 'pkcs12' : 'csr', notAfter: issued.notAfter.toISOString() })
    reply.code(201)
    return {
      [idField]: owner.id,
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

  app.delete(path, {
    onRequest: writers,
    config: { audit: false }, // audited below, with the serials revoked
    schema: { tags: [resource], ...secured, params: IdParams, querystring: SerialQuery, response: { 200: Type.Object({ revoked: Type.Array(Type.String()) }), 404: ErrorBody } }
  }, async (request) => {
    const owner = await ownerOf(request, request.params.id)
    const serial = request.query.serial === undefined ? undefined : BigInt('0x' + request.query.serial).toString(16)
    if (serial !== undefined && !(await certificates.list(owner)).some((c) => c.serial === serial)) throw new errors.NotFound('Certificate')
    const revoked = await certificates.revoke(owner, serial)
    await audit(request, 'revoke', owner.id, { serials: revoked, ...(serial === undefined ? {} : { serial }) })
    return { revoked }
  })
}
