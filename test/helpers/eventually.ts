/** Polls `probe` until it returns a value other than undefined/false, or throws after `timeoutMs` with
 * `what` in the message. The one polling loop of the test suite: no fixed sleeps. */
export async function eventually<T> (what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
