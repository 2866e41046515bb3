import fp from 'fastify-plugin'
import type { HubConfig } from '../config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated configuration (`loadConfig`), read once at start. */
    config: HubConfig
  }
}

/** The host clients are told to use: HUB_HOST, or loopback when it is a wildcard address. */
export function publicHost (config: Pick<HubConfig, 'host'>): string {
  return config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
}

/** The first plugin: every other one reads its settings from `app.config`. */
export const configPlugin = fp(async (app, opts: { config: HubConfig }) => {
  app.decorate('config', opts.config)
}, { name: 'config' })
