export interface EventuallyOptions {
  /** How long to wait (default 20 s); with `progress`, how long without progress. */
  timeoutMs?: number
  /** A reading of how far the awaited thing has come (a count, a status): while it keeps changing the
   * wait goes on, so a slow machine that is getting there is given the time it needs. */
  progress?: () => unknown
}

/** Polls `probe` until it returns a value other than undefined/false, or throws after the timeout with
 * `what` in the message; a probe that throws ends the wait with its error. The one polling loop of the
 * test suite: no fixed sleeps, no hand-rolled retry loops. The default deadline is long (a loaded machine
 * is slow); a test that passes never waits for it. */
export async function eventually<T> (what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, options: number | EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 20_000, progress } = typeof options === 'number' ? { timeoutMs: options } : options
  let until = Date.now() + timeoutMs
  let seen = progress === undefined ? undefined : JSON.stringify(progress())
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (progress !== undefined) {
      const now = JSON.stringify(progress())
      if (now !== seen) {
        seen = now
        until = Date.now() + timeoutMs
      }
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms ${progress === undefined ? '' : 'without progress '}waiting for ${what}${seen === undefined ? '' : ` (at ${seen})`}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
