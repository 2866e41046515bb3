import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import { CampaignService } from '../commands/campaign-service.ts'
import { CommandService } from '../commands/command-service.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Remote profile operations: transitions, delivery to devices, results (server/commands/). */
    commands: CommandService
    /** One operation over a set of devices, stepped on command ends. */
    campaigns: CampaignService
  }
}

export interface CommandsOptions {
  /** Command expiry sweep interval (ms; default 1000). */
  sweepMs?: number
  /** The campaigns' safety tick (ms; default 5000). */
  campaignTickMs?: number
}

/** The command and campaign services. Closed (timers stopped, deliveries ended) after the device
 * sessions and before the batcher's last writes. */
export const commandsPlugin = fp(async (app, opts: CommandsOptions) => {
  // The services log with pino's own type; `app.log` is the pino logger the hub was built with.
  const logger = app.log as Logger
  const commands = new CommandService({
    database: app.database,
    bus: app.bus,
    audit: app.audit,
    inventory: app.inventory,
    certificates: app.euiccCertificates,
    eim: app.eim,
    logger,
    metrics: app.metrics,
    send: app.sendToDevice,
    sweepMs: opts.sweepMs
  })
  app.decorate('commands', commands)
  app.addHook('onClose', async () => { await commands.close() })
  const campaigns = new CampaignService({ database: app.database, bus: app.bus, commands, logger, tickMs: opts.campaignTickMs })
  app.decorate('campaigns', campaigns)
  app.addHook('onClose', async () => { await campaigns.close() })
}, { name: 'commands', dependencies: ['database', 'bus', 'audit', 'metrics', 'inventory', 'eim-identity', 'broker'] })
