import { fork, type ChildProcess } from 'node:child_process'
import type { ConnectSpec, WorkerMessage } from './connect-worker.ts'

/** The parent's side of bench/connect-worker.ts: forking the load generator processes and talking to them. */

/** `count` loopback source addresses, 127.0.0.2 onwards (any 127.x.y.z reaches 127.0.0.1 on Linux). */
export function sourceAddresses (count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.${Math.floor((i + 2) / 256)}.${(i + 2) % 256}`)
}

/** The next message of `type` from `child`; rejects if the child exits first, or after `timeoutMs`. */
export function message<T extends WorkerMessage['type']> (child: ChildProcess, type: T, timeoutMs = 0): Promise<Extract<WorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = timeoutMs > 0 ? setTimeout(() => { done(); reject(new Error(`connect worker sent no '${type}' within ${timeoutMs} ms`)) }, timeoutMs) : undefined
    const done = (): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    const onMessage = (msg: WorkerMessage): void => {
      if (msg.type !== type) return
      done()
      resolve(msg as Extract<WorkerMessage, { type: T }>)
    }
    const onExit = (code: number | null): void => { done(); reject(new Error(`connect worker exited with ${String(code)} before '${type}'`)) }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

/** Forks one connect worker per spec and hands each its spec; resolves once all are ready. The children
 * are pushed onto `into` as they are forked, so a caller's cleanup finds them even if this rejects. */
export async function forkConnectWorkers (specs: ConnectSpec[], into: ChildProcess[]): Promise<ChildProcess[]> {
  const children: ChildProcess[] = []
  for (const spec of specs) {
    const child = fork(new URL('./connect-worker.ts', import.meta.url), { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    into.push(child)
    children.push(child)
    const ready = message(child, 'ready', 60_000)
    child.send({ type: 'spec', spec })
    await ready
  }
  return children
}

/** Sends `command` to every child and waits for each one's `type` answer. */
export async function everyWorker<T extends WorkerMessage['type']> (children: ChildProcess[], command: object, type: T, timeoutMs = 0): Promise<Array<Extract<WorkerMessage, { type: T }>>> {
  const answers = children.map((child) => message(child, type, timeoutMs))
  for (const child of children) child.send(command)
  return await Promise.all(answers)
}
