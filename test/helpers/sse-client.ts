import { request } from 'node:http'

export interface SseEvent { id?: string, event: string, data: any }

/** A minimal SSE reader over node:http for tests: collects parsed events and lets a test wait for one. */
export class SseClient {
  readonly events: SseEvent[] = []
  private waiters: Array<{ match: (e: SseEvent) => boolean, resolve: (e: SseEvent) => void }> = []
  private req: ReturnType<typeof request> | null = null
  status = 0
  /** Resolves when the server ends the stream. */
  ended: Promise<void>
  private markEnded: () => void = () => {}

  constructor () {
    this.ended = new Promise((resolve) => { this.markEnded = resolve })
  }

  static async open (url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient()
    await new Promise<void>((resolve, reject) => {
      client.req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        const done = () => client.markEnded()
        client.status = res.statusCode ?? 0
        res.setEncoding('utf8')
        let buffer = ''
        res.on('data', (chunk: string) => {
          buffer += chunk
          let end: number
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            client.parse(buffer.slice(0, end))
            buffer = buffer.slice(end + 2)
          }
        })
        res.on('error', () => {})
        res.on('end', done)
        res.on('close', done)
        resolve()
      })
      client.req.on('error', reject)
      client.req.end()
    })
    return client
  }

  private parse (block: string): void {
    const event: SseEvent = { event: 'message', data: '' }
    let data = ''
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') event.id = value
      else if (field === 'event') event.event = value
      else if (field === 'data') data += value
    }
    if (data === '') return
    event.data = JSON.parse(data)
    this.events.push(event)
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(event)) return true
      w.resolve(event)
      return false
    })
  }

  /** Resolves with the first event (already received or to come) that matches. */
  next (match: (e: SseEvent) => boolean, timeoutMs = 10_000): Promise<SseEvent> {
    const seen = this.events.find(match)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching SSE event within ' + timeoutMs + ' ms')), timeoutMs)
      this.waiters.push({ match, resolve: (e) => { clearTimeout(timer); resolve(e) } })
    })
  }

  close (): void {
    this.req?.destroy()
  }
}
