import { createContext } from '@lit/context'
import type { ApiClient } from './api-client.ts'
import type { EventStream } from './event-stream.ts'
import type { FleetStore } from './fleet-store.ts'

/** The API client, provided by `<hub-app>` for the whole app. */
export const apiContext = createContext<ApiClient>(Symbol('api-client'))
/** The signed-in session's one SSE connection. */
export const eventStreamContext = createContext<EventStream | undefined>(Symbol('event-stream'))
/** The signed-in session's live fleet. */
export const fleetContext = createContext<FleetStore | undefined>(Symbol('fleet-store'))
/** The app's URL router (web/src/router.ts). */
export const routerContext = createContext<import('../router.ts').Router>(Symbol('router'))
