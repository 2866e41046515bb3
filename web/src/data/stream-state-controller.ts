import type { ReactiveControllerHost } from 'lit'
import type { EventStream, StreamState } from './event-stream.ts'
import { SourceController } from './source-controller.ts'

/** Re-renders its host when the event stream connects, drops or reconnects. */
export class StreamStateController extends SourceController<EventStream> {
  constructor (host: ReactiveControllerHost, getStream: () => EventStream | undefined) {
    super(host, getStream, (stream, changed) => stream.onState(changed))
  }

  get state (): StreamState {
    return this.source?.state ?? 'idle'
  }

  /** The stream dropped or fell silent: device states on the page are stale. */
  get stale (): boolean {
    return this.source?.stale ?? false
  }

  get staleSince (): number | null {
    return this.source?.staleSince ?? null
  }
}
