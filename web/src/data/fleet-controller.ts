import type { ReactiveControllerHost } from 'lit'
import type { FleetStore } from './fleet-store.ts'
import { SourceController } from './source-controller.ts'

/**
 * Keeps its host rendering the live fleet: retains the store (which keeps the
 * list loaded and the event stream open) while the host is connected, and
 * requests an update whenever the store changes.
 */
export class FleetController extends SourceController<FleetStore> {
  constructor (host: ReactiveControllerHost, getStore: () => FleetStore | undefined) {
    super(host, getStore, (store, changed) => {
      const unsubscribe = store.subscribe(changed)
      const release = store.retain()
      return () => {
        unsubscribe()
        release()
      }
    })
  }

  get store (): FleetStore | undefined {
    return this.source
  }
}
