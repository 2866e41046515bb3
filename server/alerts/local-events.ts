import type { HubEvent } from '../../protocol/events.ts'
import type { EventBus } from '../bus/event-bus.ts'

/** Calls `listener` with each event this process publishes on `bus`, right after it is published.
 *
 * With Redis, every process receives every process's events from `bus.subscribe`; what must happen once
 * per event in the whole deployment (a webhook delivery row, an alert evaluation) listens here instead:
 * each event is seen by the one process that committed it. The listener runs inside `publish`, so it
 * must only queue. Returns the function that removes the tap. */
export function tapLocalPublishes (bus: EventBus, listener: (event: HubEvent) => void): () => void {
  const publish = bus.publish
  const tapped = function (this: EventBus, event: HubEvent): void {
    publish.call(this, event)
    listener(event)
  }
  bus.publish = tapped
  return () => { if (bus.publish === tapped) bus.publish = publish }
}
