import type { FastifyPluginAsync } from 'fastify'
import { alertRoutes } from './alert-routes.ts'
import { apiAutohooks } from './api-autohooks.ts'
import { apiKeyRoutes } from './api-key-routes.ts'
import { auditRoutes } from './audit-routes.ts'
import { authRoutes } from './auth-routes.ts'
import { campaignRoutes } from './campaign-routes.ts'
import { commandRoutes } from './command-routes.ts'
import { deviceCertificateRoutes } from './device-certificate-routes.ts'
import { deviceRoutes } from './device-routes.ts'
import { euiccRoutes } from './euicc-routes.ts'
import { eventRoutes } from './event-routes.ts'
import { gatewayRoutes } from './gateway-routes.ts'
import { telemetryRoutes } from './telemetry-routes.ts'
import { tenantRoutes } from './tenant-routes.ts'
import { usageRoutes } from './usage-routes.ts'
import { userRoutes } from './user-routes.ts'
import { webhookRoutes } from './webhook-routes.ts'

/** The /api folder: one authentication hook (api-autohooks.ts), then one plugin per resource. Route
 * plugins take their services from the instance (`app.devices`, `app.commands`, …, declared by
 * server/plugins/) and add only their own role checks. A new resource's routes are registered here. */
export const apiRoutes: FastifyPluginAsync = async (api) => {
  await api.register(apiAutohooks)
  await api.register(authRoutes)
  await api.register(userRoutes)
  await api.register(tenantRoutes)
  await api.register(apiKeyRoutes)
  await api.register(auditRoutes)
  await api.register(deviceRoutes)
  await api.register(gatewayRoutes)
  await api.register(telemetryRoutes)
  await api.register(euiccRoutes)
  await api.register(commandRoutes)
  await api.register(deviceCertificateRoutes)
  await api.register(campaignRoutes)
  await api.register(eventRoutes)
  await api.register(alertRoutes)
  await api.register(webhookRoutes)
  await api.register(usageRoutes)
}
