// The 64-byte request/response round trip of kernel-rr-latency, shared by our stack's socket and the
// kernel baseline. Run as a script (`node rr-client.mjs <host> <rounds>`) it measures over kernel sockets.
import net from 'node:net'
import { pathToFileURL } from 'node:url'

/** Median µs of `rounds` round trips of 64 bytes on a connected `net.Socket`-like socket. */
export async function medianRoundTrip(socket, rounds) {
  socket.setNoDelay(true)
  const message = Buffer.alloc(64, 1)
  const times = []
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint()
    await new Promise((resolve) => {
      let got = 0
      const on = (data) => {
        got += data.length
        if (got >= 64) {
          socket.off('data', on)
          resolve()
        }
      }
      socket.on('data', on)
      socket.write(message)
    })
    times.push(Number(process.hrtime.bigint() - start) / 1000)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [host, rounds] = [process.argv[2], Number(process.argv[3])]
  const socket = net.connect(7100, host)
  socket.on('connect', async () => {
    console.log(await medianRoundTrip(socket, rounds))
    socket.end()
  })
}
