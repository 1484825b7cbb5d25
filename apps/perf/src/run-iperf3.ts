/**
 * `mtcp-perf send <ip> <port> <secs> --protocol iperf3`: our stack as an iperf3 client, against a stock
 * `iperf3 -s` on a real link, or against our own iperf3 server on the far stack of the emulated link.
 * @module
 */
import { type Clock, realClock, VirtualClock } from '@mtcp/dpdk-io'
import { createCcp } from './ccp.js'
import { PerfError } from './errors.js'
import { formatBitrate, formatBytes } from './format.js'
import { type Iperf3ClientResult, runIperf3Client } from './iperf3.js'
import type { PerfOptions } from './options.js'
import { checkOutputPaths, openNetwork } from './run.js'
import { serveConnections } from './serve.js'

/** Callbacks of {@link runIperf3}. */
export interface Iperf3RunHooks {
  /** The test's start, and the summary lines. */
  onLine?: (line: string) => void
}

/**
 * One iperf3 TCP test from our stack to ip:port (`options.mode` `'send'`, `options.protocol` `'iperf3'`),
 * and the summary: our side (sender) and the server's count (receiver).
 *
 * @throws (rejects) `PerfError` `ERR_INVALID_ARG` for options that are not an iperf3 send, `ERR_CONNECTION`
 * when the server refuses or fails, and what opening the network throws.
 */
export async function runIperf3(options: PerfOptions, hooks: Iperf3RunHooks = {}): Promise<Iperf3ClientResult> {
  if (options.mode !== 'send' || options.protocol !== 'iperf3') throw new PerfError('ERR_INVALID_ARG', 'runIperf3 runs send with protocol iperf3')
  checkOutputPaths(options)
  const onLine = hooks.onLine ?? (() => {})
  const clock: Clock = options.io === 'memory' && options.clock === 'virtual' ? new VirtualClock() : realClock
  const cc = options.congestionControl
  const ccp = cc.kind === 'ccp' ? await createCcp({ algorithm: cc.algorithm, agent: cc.agent, dir: cc.dir, name: `mtcp-perf-${process.pid}`, clock }) : undefined
  let network
  try {
    network = await openNetwork(options, clock, ccp?.stackOptions ?? { congestionControl: cc.kind === 'native' ? cc.name : undefined })
  } catch (error) {
    await ccp?.close()
    throw error
  }
  const { stack, peer, driver } = network
  const run = <T>(promise: Promise<T>): Promise<T> => (driver === undefined ? promise : driver.race(promise))
  // On the emulated link, our own iperf3 server on the far stack.
  const server = peer?.createServer({ allowHalfOpen: true })
  const served = server === undefined ? undefined : serveConnections(server, { mode: 'iperf3', now: () => peer!.clock.now() / 1e6 })
  try {
    if (server !== undefined) {
      await run(new Promise<void>((resolve) => server.listen(options.port, options.ip, () => resolve())))
      onLine(`mtcp-perf: an iperf3 server (ours) listens on the far stack, ${options.family === 6 ? `[${options.ip}]` : options.ip}:${options.port}`)
    }
    const result = await run(
      runIperf3Client({
        connect: () => stack.connect({ host: options.ip, port: options.port, allowHalfOpen: true }),
        seconds: options.seconds,
        onLine,
        now: () => stack.clock.now() / 1e6,
        sleep: (seconds) =>
          new Promise<void>((resolve) => {
            const timer = stack.clock.createTimer(() => resolve())
            timer.arm(stack.clock.now() + seconds * 1e6)
          }),
      }).catch((error: Error) => {
        throw new PerfError('ERR_CONNECTION', `iperf3 test with ${options.family === 6 ? `[${options.ip}]` : options.ip}:${options.port} failed: ${error.message}`, { cause: error })
      }),
    )
    const rate = (bytes: number): string => formatBitrate(result.seconds > 0 ? (bytes * 8) / result.seconds : 0)
    onLine(`${formatBytes(result.bytesSent).padStart(10)}  ${rate(result.bytesSent).padStart(12)}  sender (us, ${result.bytesSent} bytes in ${result.seconds.toFixed(3)} s)`)
    onLine(`${formatBytes(result.serverBytes).padStart(10)}  ${rate(result.serverBytes).padStart(12)}  receiver (the iperf3 server's count, ${result.serverBytes} bytes)`)
    return result
  } finally {
    served?.close()
    server?.close()
    network.close()
    await ccp?.close()
  }
}
