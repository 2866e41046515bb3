import { connect, createServer, type AddressInfo } from 'node:net'

/** A TCP port free on 127.0.0.1 right now (the kernel's choice for port 0), for a server started as a
 * child process (a hub, redis-server, mosquitto) that cannot report a port 0 choice back. Tests and
 * benches share this one. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Resolves once 127.0.0.1:`port` accepts a connection; rejects with `what` at `deadline` (epoch ms). */
export async function accepting (port: number, deadline: number, what: string): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${what} did not listen on ${port}`)
}
