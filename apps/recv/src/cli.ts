#!/usr/bin/env node
// mtcp-recv: the perf receiver on ordinary sockets. `mtcp-recv wait|send <ip> <port> [--once] [--idle-timeout <secs>] [--json]`.
import type { Server } from 'node:net'
import type { Duplex } from 'node:stream'
import { formatAddress, formatHostPort } from './address.js'
import { parseRecvArgs, USAGE } from './args.js'
import { RecvError } from './errors.js'
import type { IntervalReport, ReceiveResult } from './receive.js'
import { connect, listen } from './tcp.js'

/** How long to wait for the sender to close after the reply before leaving anyway. */
const CLOSE_GRACE_MS = 5000

function main(argv: readonly string[]): void {
  let command
  try {
    command = parseRecvArgs(argv)
  } catch (error) {
    if (error instanceof RecvError && error.code === 'ERR_USAGE') {
      // One line: what is wrong and where to look; the usage itself is for --help.
      console.error(`mtcp-recv: ${error.message} (mtcp-recv --help lists the flags)`)
      process.exit(2)
    }
    throw error
  }
  if (command === 'help') {
    console.log(USAGE)
    return
  }
  const { json } = command
  const emit = (event: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify(event)}\n`)
  }
  const onLine = json ? undefined : (line: string) => console.log(line)
  const onInterval = json ? (report: IntervalReport) => emit({ event: 'interval', t: report.start, seconds: report.seconds, bytes: report.bytes, mbps: report.mbps }) : undefined
  const onResult = (result: ReceiveResult): void => {
    if (json) emit({ event: 'done', host: result.host, port: result.port, bytes: result.bytes, seconds: result.seconds, mbps: result.mbps, endedBy: result.endedBy, mismatchedChunks: result.mismatchedChunks, replied: result.replied })
  }
  const onFailure = (error: Error & { code?: string }): void => {
    if (json) emit({ event: 'error', code: error.code ?? 'ERR_UNKNOWN', message: error.message })
    else console.error(`mtcp-recv: ${error.message}`)
  }
  const leaveSoon = (): void => {
    setTimeout(() => process.exit(), CLOSE_GRACE_MS).unref()
  }

  if (command.mode === 'send') {
    connect({
      host: command.host,
      port: command.port,
      idleTimeoutSeconds: command.idleTimeout,
      onLine,
      onInterval,
      onConnect: () => {
        if (json) emit({ event: 'connected', host: formatAddress(command.host), port: command.port })
      },
    }).then(
      (result) => {
        onResult(result)
        leaveSoon()
      },
      (error: Error) => {
        onFailure(error)
        process.exitCode = 1
      },
    )
    return
  }

  const once = command.once
  let server: Server | undefined
  listen({
    host: command.host,
    port: command.port,
    ipv6Only: command.ipv6Only,
    idleTimeoutSeconds: command.idleTimeout,
    onLine,
    onInterval,
    onResult: (result: ReceiveResult, socket: Duplex) => {
      onResult(result)
      if (once) {
        server?.close()
        socket.once('close', () => process.exit())
        leaveSoon()
      }
    },
    onError: (error) => {
      onFailure(error)
      if (once) {
        process.exitCode = 1
        server?.close()
      }
    },
  }).then(
    (listening) => {
      server = listening
      const address = listening.address()
      if (address !== null && typeof address === 'object') {
        if (json) emit({ event: 'ready', host: formatAddress(address.address), port: address.port })
        else console.log(`Listening on ${formatHostPort(address.address, address.port)}`)
      }
      if (json) {
        listening.on('connection', (socket: { remoteAddress?: string; remotePort?: number }) => emit({ event: 'connected', host: socket.remoteAddress === undefined ? undefined : formatAddress(socket.remoteAddress), port: socket.remotePort }))
      }
    },
    (error: Error) => {
      onFailure(error)
      process.exitCode = 1
    },
  )
}

main(process.argv.slice(2))
