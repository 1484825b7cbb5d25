/**
 * A whole perf run: the network (the emulated link with `mtcp-recv`'s receiver on a second stack, or a
 * TAP device or interface), the sending stack and its congestion control, the connection in `send` or
 * `wait` mode, the transfer, sampling for the report, progress, and cleanup.
 * @module
 */
import { accessSync, constants, statSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import {
  createMemoryLink,
  type LinkDirectionStats,
  type MemoryLink,
  type Micros,
  openPacketPort,
  openTapPort,
  PcapWriter,
  type Port,
  type Clock,
  realClock,
  VirtualClock,
} from '@mtcp/dpdk-io'
import { receive, type ReceiveResult, serve } from '@mtcp/recv'
import { createStack, PollEvents, type Stack, StackError, type StackOptions, type TcpInfo, type TcpSocket } from '@mtcp/stack'
import { type CcpControlSummary, type CcpSetup, createCcp, formatControlSummary } from './ccp.js'
import { ClockDriver } from './clock-driver.js'
import { PerfError } from './errors.js'
import { neighbourAddress, type PerfOptions } from './options.js'
import { renderReport, type ReportData } from './report.js'
import { openPerfDpdkPort } from './dpdk.js'
import { formatBitrate, formatBytes } from './format.js'
import { ConnectionSampler, type PerfSeries } from './sampler.js'
import { formatSenderSummary, type SenderResult, sendPerf } from './sender.js'
import { formatInterval, formatSummary, INTERVAL_HEADER } from './summary.js'

/** Where a line of output comes from. */
export type PerfLineSource = 'sender' | 'receiver' | 'info'

/** One progress report, every `options.interval` seconds of the stack's clock. */
export interface PerfProgress {
  /** Seconds since the connection was set up, at the interval's start. */
  start: number
  /** Seconds since the connection was set up, at the interval's end (now). */
  t: number
  /** Data newly acknowledged in the interval, bytes. */
  bytes: number
  /** Goodput (newly acknowledged data) over the interval, bit/s. */
  bitsPerSecond: number
  /** Goodput over the interval, Mbit/s. */
  mbps: number
  /** Congestion window, bytes. */
  cwnd: number
  /** Smoothed RTT, ms (0 before the first sample). */
  srttMs: number
  /** Retransmitted segments so far. */
  retransmits: number
  /** Segments retransmitted in the interval. */
  intervalRetransmits: number
  /** Bytes acknowledged so far. */
  bytesAcked: number
}

/** Callbacks of {@link runPerf}. */
export interface PerfHooks {
  /** Every output line in order: the receiver's (emulated link only), `info` lines, the sender's summary. */
  onLine?: (line: string, source: PerfLineSource) => void
  /** Every progress interval. */
  onProgress?: (progress: PerfProgress) => void
  /**
   * A warning about the run, e.g. that nothing has been acknowledged for 10 s past the transfer's end
   * (with the connection's state and the stack's counters, to see where it stands).
   */
  onWarning?: (message: string) => void
  /** The command line, for the report. */
  command?: string
  /**
   * Stop the run early (Ctrl-C). During the transfer: the connection is reset (so the receiver ends too),
   * and the run resolves with the partial result (`interrupted: true`) and writes the report. Before it
   * (connecting, waiting for the peer): rejects with `PerfError` `ERR_INTERRUPTED`.
   */
  signal?: AbortSignal
}

/** What a run produced. */
export interface PerfResult {
  sender: SenderResult
  /** The original sender's closing lines (blank, `Time elapsed`, `Total bytes sent`, `Throughput`). */
  summaryLines: string[]
  /** The receiver's result, when it ran in this process (the emulated link). */
  receiver: ReceiveResult | undefined
  /** The receiver's lines, when it ran in this process. */
  receiverLines: string[]
  /** The sending connection's last `tcpInfo` reading. */
  tcpInfo: TcpInfo | undefined
  /** The 100 ms samples. */
  series: PerfSeries
  /** The progress reports. */
  intervals: PerfProgress[]
  /** The emulated link's counters per direction (a→b is ours to the receiver). */
  link: { aToB: LinkDirectionStats; bToA: LinkDirectionStats } | undefined
  /** A description of the congestion control, e.g. `'reno (native)'`. */
  congestionControl: string
  /** Seconds of wall time the run took. */
  wallSeconds: number
  /** Seconds of the stack's clock the run took (equal to wallSeconds on a real clock, roughly). */
  clockSeconds: number
  /** With CCP: when the agent took the flow over or was lost, and each controller's share of the transfer. */
  ccp?: CcpControlSummary
  /** The run was stopped early by {@link PerfHooks.signal}: the results are partial. */
  interrupted: boolean
}

/** Samples for the report: one every 100 ms of the stack's clock. */
const SAMPLE_PERIOD: Micros = 100_000
/** How long to let the closing handshakes finish after the reply, on the stack's clock. */
const LINGER: Micros = 2_000_000
/** How long nothing may be acknowledged, past the transfer's end, before {@link PerfHooks.onWarning} says so. */
const STALL_WARNING: Micros = 10_000_000
/** Extra time (on the stack's clock) beyond the transfer before a run counts as stalled. */
const SLACK: Micros = 300_000_000

/** A run's network: our stack on its port, and on the emulated link the peer stack. @internal */
export interface Network {
  stack: Stack
  port: Port
  link: MemoryLink | undefined
  peer: Stack | undefined
  driver: ClockDriver | undefined
  close(): void
}

function prefixOf(address: string): string {
  return address.split('/')[1] ?? '24'
}

/** Open the network the options describe. @internal */
export async function openNetwork(options: PerfOptions, clock: Clock, stackOptions: Partial<StackOptions>): Promise<Network> {
  const tcp = { sendBufferSize: options.sendBufferSize, receiveBufferSize: options.receiveBufferSize }
  // Over IPv6 the stacks keep IPv4 addresses of their own, unused by the run: 10.0.0.1 and 10.0.0.2 on the
  // emulated link; on a real link one of TEST-NET-1 (RFC 5737 §3), which no peer there uses, alone in its /32.
  const six = options.family === 6
  const address4 = options.io === 'memory' ? '10.0.0.1/24' : '192.0.2.1/32'
  const gateway = options.gateway === undefined ? {} : six ? { ipv6Gateway: options.gateway } : { gateway: options.gateway }
  const common = { address: six ? address4 : options.address, ...(six ? { ipv6: options.address } : {}), tcp, ...gateway, ...(options.mac === undefined ? {} : { mac: options.mac }) }
  if (options.io === 'memory') {
    const { link: settings } = options
    const link = createMemoryLink({
      clock,
      seed: options.seed,
      impairments: {
        rate: settings.rate,
        delay: settings.delay,
        jitter: settings.jitter,
        loss: settings.loss,
        reorder: settings.reorder,
        duplicate: settings.duplicate,
        corrupt: settings.corrupt,
        queuePackets: settings.queuePackets,
      },
      ...(options.offloads ? { offloads: { checksum: true, segmentation: true } } : {}),
    })
    const stack = createStack({ port: link.a, ...common, ...stackOptions })
    const peerIp = options.mode === 'send' ? options.ip : neighbourAddress(options.ip)
    const peer = createStack({ port: link.b, ...(six ? { address: '10.0.0.2/24', ipv6: `${peerIp}/${prefixOf(options.address)}` } : { address: `${peerIp}/${prefixOf(options.address)}` }), tcp })
    const limit = (options.connectTimeout + options.seconds) * 1e6 + SLACK
    const driver = clock instanceof VirtualClock ? new ClockDriver(clock, limit) : undefined
    return {
      stack,
      port: link.a,
      link,
      peer,
      driver,
      close() {
        driver?.stop()
        stack.stop()
        peer.stop()
        link.close()
      },
    }
  }
  const portOptions = { clock, offloads: options.offloads, ...(options.mac === undefined ? {} : { mac: options.mac }) }
  const port =
    options.io === 'dpdk'
      ? await openPerfDpdkPort(options, portOptions)
      : options.io === 'tap'
        ? await openTapPort({ name: options.dev!, ...portOptions })
        : await openPacketPort({ interface: options.dev!, ...portOptions })
  let stack: Stack
  try {
    stack = createStack({ port, ...common, ...stackOptions })
  } catch (error) {
    port.close()
    throw error
  }
  return {
    stack,
    port,
    link: undefined,
    peer: undefined,
    driver: undefined,
    close() {
      stack.stop()
      port.close()
    },
  }
}

/** Resolve once `fd` is connected; reject on failure or after `timeoutUs`. */
function established(stack: Stack, fd: number, timeoutUs: Micros, target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = stack.clock.createTimer(() => {
      unwatch()
      reject(new PerfError('ETIMEDOUT', `no connection to ${target} after ${timeoutUs / 1e6} s (no answer to ARP or SYN)`))
    })
    const check = (events: number): void => {
      const state = stack.state(fd)
      if (events & PollEvents.ERR || state === 'CLOSED') {
        const code = stack.connectionOf(fd)?.error ?? 'ECONNREFUSED'
        timer.cancel()
        unwatch()
        reject(new PerfError('ERR_CONNECTION', `cannot connect to ${target}: ${code}`, { cause: new StackError(code, `connect to ${target}`) }))
        return
      }
      if (state !== 'SYN-SENT' && state !== 'SYN-RECEIVED') {
        timer.cancel()
        unwatch()
        resolve()
      }
    }
    const unwatch = stack.watch(fd, (_fd, events) => check(events))
    timer.arm(stack.clock.now() + timeoutUs)
  })
}

/** Listen on ip:port and resolve with the first connection (the listener is closed). */
function acceptOne(stack: Stack, ip: string, port: number): Promise<number> {
  const listener = stack.socket()
  stack.bind(listener, ip, port)
  stack.listen(listener, 1)
  return new Promise((resolve) => {
    const unwatch = stack.watch(listener, (_fd, events) => {
      if (!(events & PollEvents.IN)) return
      let fd: number
      try {
        fd = stack.accept(listener)
      } catch {
        return
      }
      unwatch()
      stack.close(listener)
      resolve(fd)
    })
  })
}

/** Resolve once no connection of `stack` is still closing (all in TIME-WAIT or gone), or after `limitUs`. */
function settle(stack: Stack, limitUs: Micros): Promise<void> {
  const clock = stack.clock
  const until = clock.now() + limitUs
  return new Promise((resolve) => {
    const timer = clock.createTimer(() => {
      const states = stack.connectionsByState()
      const busy = Object.entries(states).some(([state, count]) => count! > 0 && state !== 'TIME-WAIT' && state !== 'CLOSED' && state !== 'LISTEN')
      if (!busy || clock.now() >= until) resolve()
      else timer.arm(clock.now() + 10_000)
    })
    timer.arm(clock.now())
  })
}

function describeCc(options: PerfOptions, ccp: CcpSetup | undefined): string {
  if (ccp !== undefined) return ccp.description
  return options.congestionControl.kind === 'native' ? `${options.congestionControl.name} (native)` : `ccp:${options.congestionControl.algorithm}`
}

/**
 * Run one perf transfer as the options say, and resolve with what it measured. With `options.report`
 * the HTML report is written; with `options.pcap` our side's frames are captured.
 *
 * @throws (rejects) `PerfError` (`ETIMEDOUT`, `ERR_CONNECTION`, `ERR_PROTOCOL`, `ERR_STALLED`,
 * `CcpIpcError` when a unix CCP socket cannot be opened), or `DpdkIoError` when the port cannot be opened (`ERR_NATIVE_UNAVAILABLE`, …).
 *
 * @example
 * ```ts
 * const options = parsePerfArgs(['send', '10.0.0.2', '5001', '10', '--cc', 'reno'])
 * const result = await runPerf(options, { onLine: (line) => console.log(line) })
 * ```
 */
export async function runPerf(options: PerfOptions, hooks: PerfHooks = {}): Promise<PerfResult> {
  if (options.mode === 'serve') throw new PerfError('ERR_INVALID_ARG', 'runPerf runs wait and send; serve is runServe')
  checkOutputPaths(options)
  const wallStart = performance.now()
  const onLine = hooks.onLine ?? (() => {})
  const target = `${options.family === 6 ? `[${options.ip}]` : options.ip}:${options.port}`
  const cc = options.congestionControl
  // The emulated link runs on a virtual clock (faster than real time) unless asked otherwise.
  const runClock: Clock = options.io === 'memory' && options.clock === 'virtual' ? new VirtualClock() : realClock
  const ccp =
    cc.kind === 'ccp' ? await createCcp({ algorithm: cc.algorithm, agent: cc.agent, dir: cc.dir, name: `mtcp-perf-${process.pid}`, clock: runClock }) : undefined
  let network: Network
  try {
    network = await openNetwork(options, runClock, ccp?.stackOptions ?? { congestionControl: cc.kind === 'native' ? cc.name : undefined })
  } catch (error) {
    await ccp?.close()
    throw error
  }
  const { stack, peer, driver } = network
  const clock = stack.clock
  const clockStart = clock.now()
  const signal = hooks.signal
  // Before the transfer, an interruption ends the run with ERR_INTERRUPTED; during it, sendPerf resets the connection.
  const interrupted = new Promise<never>((_, reject) => {
    const stop = (): void => reject(new PerfError('ERR_INTERRUPTED', `interrupted before the transfer started (${options.mode === 'send' ? `connecting to ${target}` : `waiting for a connection on ${target}`})`))
    if (signal?.aborted === true) stop()
    else signal?.addEventListener('abort', stop, { once: true })
  })
  interrupted.catch(() => {})
  const raced = <T>(promise: Promise<T>): Promise<T> => (signal === undefined ? promise : Promise.race([promise, interrupted]))
  const run = <T>(promise: Promise<T>): Promise<T> => (driver === undefined ? promise : driver.race(promise))
  const pcap = options.pcap === undefined ? undefined : PcapWriter.open(options.pcap, { snapLength: 128 })
  if (pcap !== undefined) network.port.capture(pcap)
  const receiverLines: string[] = []
  const receiverLine = (line: string): void => {
    receiverLines.push(line)
    onLine(line, 'receiver')
  }

  try {
    // The receiver's side, on the other end of the emulated link: mtcp-recv's protocol code on a stack socket.
    let receiverResult: Promise<ReceiveResult> | undefined
    let fd: number
    if (options.mode === 'send') {
      if (peer !== undefined) {
        receiverResult = new Promise((resolve, reject) => {
          const server = peer.createServer({ allowHalfOpen: true })
          serve(server, { clock: peer.clock, onLine: receiverLine, onResult: resolve, onError: reject })
          server.listen(options.port, options.ip, () => receiverLine('Server ready...'))
        })
        receiverResult.catch(() => {})
      }
      fd = stack.socket()
      stack.connect(fd, options.ip, options.port)
      await run(raced(established(stack, fd, options.connectTimeout * 1e6, target)))
    } else {
      const accepted = acceptOne(stack, options.ip, options.port)
      if (peer !== undefined) {
        receiverResult = new Promise((resolve, reject) => {
          const socket: TcpSocket = peer.connect({ host: options.ip, port: options.port, allowHalfOpen: true }, () => {
            receiverLine('Connected')
            receive(socket, { clock: peer.clock, host: options.ip, port: options.port, onLine: receiverLine }).then(resolve, reject)
          })
          socket.once('error', reject)
        })
        receiverResult.catch(() => {})
      }
      fd = await run(raced(accepted))
    }

    // Sampling and progress, on the stack's clock.
    const intervals: PerfProgress[] = []
    const sampler = new ConnectionSampler(stack, fd, SAMPLE_PERIOD)
    const connectedAt = clock.now()
    if (ccp !== undefined) {
      // Say when the agent takes the flow over or is lost, as it happens (issue 17, 6).
      ccp.timeline.onChange = (event) =>
        onLine(`CCP: ${event.controller === 'agent' ? 'the agent took the flow over' : 'the agent was lost: native congestion control'} at ${event.t.toFixed(2)} s`, 'info')
      ccp.timeline.start(connectedAt)
    }
    let lastTime = connectedAt
    let lastAcked = 0
    let lastRetransmits = 0
    let lastAdvance = connectedAt
    let stallReported = false
    const progressTimer = clock.createTimer(() => {
      let info: TcpInfo
      try {
        info = stack.tcpInfo(fd)
      } catch {
        return
      }
      const now = clock.now()
      const seconds = (now - lastTime) / 1e6
      const bytes = info.bytesAcked - lastAcked
      const bitsPerSecond = seconds > 0 ? (bytes * 8) / seconds : 0
      const progress: PerfProgress = {
        start: (lastTime - connectedAt) / 1e6,
        t: (now - connectedAt) / 1e6,
        bytes,
        bitsPerSecond,
        mbps: bitsPerSecond / 1e6,
        cwnd: info.cwnd,
        srttMs: info.srttUs / 1000,
        retransmits: info.retransmittedSegments,
        intervalRetransmits: info.retransmittedSegments - lastRetransmits,
        bytesAcked: info.bytesAcked,
      }
      if (info.bytesAcked !== lastAcked) lastAdvance = now
      // Nothing acknowledged for 10 s after the transfer should have ended: say where things stand, once.
      if (!stallReported && now - lastAdvance >= STALL_WARNING && now - connectedAt >= (options.seconds + 1) * 1e6) {
        stallReported = true
        const { tx, rx } = stack.stats
        hooks.onWarning?.(
          `no data acknowledged for ${((now - lastAdvance) / 1e6).toFixed(0)} s: connection ${JSON.stringify(info)}; ` +
            `stack tx ${JSON.stringify(tx)} rx ${JSON.stringify(rx)}; port ${JSON.stringify(stack.port.stats)}; sockets ${JSON.stringify(stack.connectionsByState())}`,
        )
      }
      lastTime = now
      lastAcked = info.bytesAcked
      lastRetransmits = info.retransmittedSegments
      intervals.push(progress)
      hooks.onProgress?.(progress)
      progressTimer.arm(connectedAt + (intervals.length + 1) * options.interval * 1e6)
    })
    progressTimer.arm(connectedAt + options.interval * 1e6)

    let sender: SenderResult
    try {
      sender = await run(sendPerf(stack, fd, { seconds: options.seconds, onStart: () => sampler.sample(), ...(signal === undefined ? {} : { signal }) }))
    } finally {
      progressTimer.cancel()
      sampler.stop()
    }
    const transferEnd = clock.now()
    // Interrupted: the receiver saw the reset and failed; its partial count is not a result.
    const receiver = receiverResult === undefined ? undefined : sender.interrupted ? await run(receiverResult.catch(() => undefined)) : await run(receiverResult)
    const summaryLines = formatSenderSummary(sender)
    const ccpSummary = ccp?.timeline.summary(transferEnd)
    if (ccp !== undefined) ccp.timeline.onChange = undefined
    for (const line of summaryLines) onLine(line, 'sender')
    if (ccpSummary !== undefined) onLine(`CCP controller: ${formatControlSummary(ccpSummary)}`, 'info')
    await run(settle(stack, LINGER))
    if (peer !== undefined) await run(settle(peer, LINGER))

    const result: PerfResult = {
      sender,
      summaryLines,
      receiver,
      receiverLines,
      tcpInfo: sampler.last,
      series: sampler.series,
      intervals,
      link: network.link === undefined ? undefined : { aToB: { ...network.link.stats('aToB') }, bToA: { ...network.link.stats('bToA') } },
      congestionControl: describeCc(options, ccp),
      wallSeconds: (performance.now() - wallStart) / 1000,
      clockSeconds: (clock.now() - clockStart) / 1e6,
      ...(ccpSummary === undefined ? {} : { ccp: ccpSummary }),
      interrupted: sender.interrupted,
    }
    if (options.report !== undefined) writeFileSync(options.report, renderReport(reportData(options, result, hooks.command)))
    return result
  } finally {
    network.close()
    pcap?.close()
    await ccp?.close()
  }
}

/**
 * Check, before a run, that the report and capture files can be written: their directory exists and is
 * writable, and they are not directories.
 * @throws `PerfError` `ERR_INVALID_ARG` naming the flag, the path and what is wrong.
 */
export function checkOutputPaths(options: Pick<PerfOptions, 'report' | 'pcap'>): void {
  for (const [flag, path] of [['--report', options.report], ['--pcap', options.pcap]] as const) {
    if (path === undefined) continue
    const absolute = resolve(path)
    let problem: string | undefined
    try {
      if (statSync(absolute).isDirectory()) problem = 'it is a directory'
      else accessSync(absolute, constants.W_OK)
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === 'ENOENT') {
        try {
          accessSync(dirname(absolute), constants.W_OK)
        } catch (inner) {
          problem = (inner as { code?: string }).code === 'ENOENT' ? `the directory ${dirname(absolute)} does not exist` : `the directory ${dirname(absolute)} is not writable`
        }
      } else problem = code === 'EACCES' ? 'it is not writable' : (error as Error).message
    }
    if (problem !== undefined) throw new PerfError('ERR_INVALID_ARG', `${flag} ${path}: cannot write there: ${problem}`)
  }
}

/** The settings and results as the report shows them. */
export function reportData(options: PerfOptions, result: PerfResult, command = 'mtcp-perf'): ReportData {
  const settings: Record<string, string> = {
    mode: `${options.mode} ${options.family === 6 ? `[${options.ip}]` : options.ip}:${options.port} for ${options.seconds} s`,
    'packet I/O': options.io === 'memory' ? `memory (emulated link, ${options.clock} clock)` : `${options.io} on ${options.dev}`,
    'our address': options.address,
    'IP version': options.family === 6 ? 'IPv6' : 'IPv4',
    'congestion control': result.congestionControl,
    buffers: `send ${options.sendBufferSize} B, receive ${options.receiveBufferSize} B`,
    offloads: options.offloads ? 'on' : 'off',
  }
  if (options.io === 'memory') {
    const link = options.link
    settings.link = `${formatBitrate(link.rate)}, ${link.delay / 1000} ms one way, ${link.loss * 100}% loss, queue ${link.queuePackets} packets`
    if (link.jitter > 0 || link.reorder > 0 || link.duplicate > 0 || link.corrupt > 0) {
      settings['more impairments'] = `jitter ±${link.jitter / 1000} ms, reorder ${link.reorder * 100}%, duplicate ${link.duplicate * 100}%, corrupt ${link.corrupt * 100}%`
    }
    settings.seed = String(options.seed)
  }
  const { sender, tcpInfo, receiver } = result
  const senderRate = sender.elapsedSeconds > 0 ? (sender.bytesSent * 8) / sender.elapsedSeconds : 0
  const summary: Record<string, string> = {
    throughput: `${formatBitrate(senderRate)} (${formatBytes(sender.bytesSent)}, ${sender.bytesSent} bytes in ${sender.elapsedSeconds.toFixed(3)} s)`,
  }
  if (result.interrupted) summary.interrupted = `yes: stopped (Ctrl-C) after ${sender.elapsedSeconds.toFixed(3)} s of ${options.seconds} s, the connection reset`
  if (options.io === 'memory') summary['of the link rate'] = `${((senderRate / options.link.rate) * 100).toFixed(1)}%`
  if (receiver !== undefined) summary.receiver = `${formatBitrate(receiver.mbps * 1e6)} (${receiver.bytes} bytes in ${receiver.seconds.toFixed(3)} s, end: ${receiver.endedBy})`
  if (tcpInfo !== undefined) {
    summary.retransmissions = `${tcpInfo.retransmittedSegments} segments (${tcpInfo.retransmittedBytes} bytes) in ${tcpInfo.fastRetransmits} fast-recovery episodes and ${tcpInfo.retransmitTimeouts} timeouts`
    summary.rtt = `srtt ${(tcpInfo.srttUs / 1000).toFixed(2)} ms, min ${(tcpInfo.minRttUs / 1000).toFixed(2)} ms`
    summary['final cwnd'] = `${tcpInfo.cwnd} bytes (MSS ${tcpInfo.mss})`
  }
  if (result.ccp !== undefined) summary['congestion controller'] = formatControlSummary(result.ccp)
  if (result.link !== undefined) summary['link drops (to receiver)'] = `${result.link.aToB.randomLosses} random, ${result.link.aToB.queueDrops} queue`
  summary['wall time'] = `${result.wallSeconds.toFixed(2)} s for ${result.clockSeconds.toFixed(2)} s of the stack's clock`
  return {
    version: 1,
    title: `mtcp-perf: ${formatBitrate(senderRate)}, ${result.congestionControl}${result.interrupted ? ' (interrupted)' : ''}`,
    generated: new Date().toISOString(),
    command,
    settings,
    summary,
    senderLines: [...result.intervals.length > 0 ? [INTERVAL_HEADER, ...result.intervals.map(formatInterval)] : [], ...formatSummary(result)],
    receiverLines: result.receiverLines,
    linkRateMbps: options.io === 'memory' ? options.link.rate / 1e6 : undefined,
    sendingStoppedAt: (sender.stoppedAt - sender.startedAt) / 1e6,
    series: result.series,
  }
}
