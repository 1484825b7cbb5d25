/**
 * The unix-datagram transport, on portus's paths (docs/decisions/0008-unix-datagrams-through-unix-dgram.md):
 * the agent binds `/tmp/ccp/portus`; each datapath binds `/tmp/ccp/<name>` and sends to the agent from that
 * same socket, because portus answers at the sender's address and drops datagrams from unbound senders.
 *
 * Everything is non-blocking and on the event loop: `unix-dgram` opens its sockets `SOCK_NONBLOCK` and reports
 * a full receiver as `EAGAIN` at once, so a send never waits. A datagram that cannot be sent is dropped
 * and counted, never queued: CCP messages are reports and updates, and the next one supersedes a lost one
 * (docs/decisions/0008-unix-datagrams-through-unix-dgram.md).
 * @module
 */
import { chmodSync, lstatSync, mkdirSync, type Stats, statSync, unlinkSync } from 'node:fs'
import { constants } from 'node:os'
import { resolve } from 'node:path'
import { AGENT_TO_DATAPATH_MAX_BYTES, checkDatagram, DATAPATH_TO_AGENT_MAX_BYTES } from './datagram-check.js'
import { CcpIpcError, type CcpIpcErrorCode } from './errors.js'
import { isCongestion, SendResult, sendResultName } from './errno.js'
import { createStats, deliverToHandler, type TransportStats } from './stats.js'
import {
  type AgentMessageHandler,
  type AgentTransport,
  type DatapathMessageHandler,
  type DatapathTransport,
  DEFAULT_AGENT_NAME,
  type LogHook,
} from './transport.js'
import { loadUnixDgram, type UnixDgram, type UnixDgramError, type UnixDgramSocket } from './unix-dgram-loader.js'

/** Where portus and its datapaths put their sockets. */
export const DEFAULT_SOCKET_DIR = '/tmp/ccp'

/** The socket directory's mode when this package creates it: only its owner may enter. */
export const SOCKET_DIR_MODE = 0o700

/** The socket file's mode: only its owner may send to it, so no other user can steer a connection's window. */
export const SOCKET_FILE_MODE = 0o600

/** Options of {@link openUnixDatapath}. */
export interface UnixDatapathOptions {
  /** This datapath's socket name inside `dir` (one per datapath, e.g. `mtcp-<pid>-<worker>`). */
  name: string
  /** The socket directory, created 0700 if missing. Default `/tmp/ccp`. Resolved to an absolute path. */
  dir?: string
  /** The agent's socket name inside `dir`. Default `'portus'`. */
  agent?: string
  /** Told about a directory with looser permissions than 0700, and a stale socket file replaced. */
  log?: LogHook
}

/** Options of {@link openUnixAgent}. */
export interface UnixAgentOptions {
  /** The socket directory, created 0700 if missing. Default `/tmp/ccp`. */
  dir?: string
  /** The agent's socket name inside `dir`. Default `'portus'`. */
  name?: string
  /** Told about a directory with looser permissions than 0700, and a stale socket file replaced. */
  log?: LogHook
}

/**
 * Open the datapath's end: bind `<dir>/<name>` (mode 0600, in a directory created 0700 if missing, a stale
 * socket file from an earlier run replaced) and send to `<dir>/<agent>` from it. Synchronous.
 *
 * Throws {@link CcpIpcError}: `ERR_UNIX_DGRAM_UNAVAILABLE` without a built `unix-dgram`,
 * `ERR_UNIX_DGRAM_MAIN_THREAD` in a worker thread, `EADDRINUSE` when a live process is bound at the path,
 * `EEXIST` when a non-socket file is there, `ENAMETOOLONG` for a path over 107 bytes, `ERR_INVALID_ARG`
 * for a bad name, or the OS error's name (`EACCES`, …).
 */
export function openUnixDatapath(options: UnixDatapathOptions): DatapathTransport {
  const { dir = DEFAULT_SOCKET_DIR, name, agent = DEFAULT_AGENT_NAME, log } = options ?? ({} as Partial<UnixDatapathOptions>)
  const directory = checkDir(dir)
  const agentPath = checkPathLength(resolve(directory, checkName('agent', agent)))
  checkName('name', name)
  const unix = loadUnixDgram()
  return new UnixDatapath(bindSocketPath(unix, directory, name!, log), agentPath, log)
}

/**
 * Open the agent's end: bind `<dir>/<name>` (default `/tmp/ccp/portus`; mode 0600, directory 0700 if
 * created, a stale socket file replaced) and answer each datapath at its address. Synchronous; throws
 * as {@link openUnixDatapath}.
 */
export function openUnixAgent(options: UnixAgentOptions = {}): AgentTransport {
  const { dir = DEFAULT_SOCKET_DIR, name = DEFAULT_AGENT_NAME, log } = options ?? {}
  const directory = checkDir(dir)
  checkName('name', name)
  const unix = loadUnixDgram()
  return new UnixAgent(bindSocketPath(unix, directory, name, log), log)
}

/** One bound socket, the part both ends share. */
abstract class UnixEndpoint {
  readonly address: string
  readonly stats: TransportStats = createStats()
  readonly #socket: UnixDgramSocket
  readonly #identity: string
  readonly #receiveLimit: number
  readonly #log: LogHook | undefined
  #closed = false
  // unix-dgram calls the send callback synchronously; one callback for every send, no closure per send.
  #sendError = 0
  readonly #onSent = (error?: UnixDgramError): void => {
    this.#sendError = error === undefined || error === null ? 0 : errnoOf(error)
  }

  constructor(bound: BoundSocket, receiveLimit: number, log: LogHook | undefined) {
    this.address = bound.path
    this.#socket = bound.socket
    this.#identity = bound.identity
    this.#receiveLimit = receiveLimit
    this.#log = log
    bound.socket.on('message', (buffer, info) => this.#receive(buffer, info.path ?? undefined))
  }

  /** Hand a checked datagram to the kernel; counts the outcome. */
  protected transmit(path: string, bytes: Uint8Array, limit: number): number {
    if (!(bytes instanceof Uint8Array)) {
      this.stats.dropped.malformed++
      return SendResult.EINVAL
    }
    const problem = checkDatagram(bytes, limit)
    if (problem !== undefined) {
      this.stats.dropped[problem]++
      return problem === 'oversized' ? SendResult.EMSGSIZE : SendResult.EINVAL
    }
    if (this.#closed) {
      this.stats.sendFailed++
      return SendResult.EBADF
    }
    this.#sendError = SendResult.EBADF // stays so only if unix-dgram never calls back
    try {
      this.#socket.send(bytes, 0, bytes.length, path, this.#onSent)
    } catch (error) {
      this.#sendError = errnoOf(error as UnixDgramError)
    }
    const result = this.#sendError
    if (result === 0) {
      this.stats.sent++
      return 0
    }
    if (isCongestion(result)) {
      // A full receive queue: drop, do not wait for 'writable'. The next report supersedes this one.
      this.stats.dropped.congested++
      return SendResult.EAGAIN
    }
    this.stats.sendFailed++
    return result
  }

  /** Hand one checked datagram to the handler, or count why not. */
  protected abstract deliver(bytes: Buffer, from: string | undefined): void

  #receive(bytes: Buffer, from: string | undefined): void {
    if (this.#closed) return
    const problem = checkDatagram(bytes, this.#receiveLimit)
    if (problem !== undefined) {
      this.stats.dropped[problem]++
      return
    }
    this.deliver(bytes, from)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    try {
      this.#socket.close()
    } catch (error) {
      this.#log?.('warn', `closing the socket ${this.address} failed`, { error })
    }
    // Unlink only our own socket file: another process may have replaced it since (inode numbers are
    // reused on tmpfs, so the change time, set by our chmod to the nanosecond, is part of the identity).
    try {
      if (fileIdentity(this.address) === this.#identity) unlinkSync(this.address)
    } catch {
      // Already gone.
    }
  }
}

class UnixDatapath extends UnixEndpoint implements DatapathTransport {
  readonly #agentPath: string
  #handler: DatapathMessageHandler | undefined

  constructor(bound: BoundSocket, agentPath: string, log: LogHook | undefined) {
    super(bound, AGENT_TO_DATAPATH_MAX_BYTES, log)
    this.#agentPath = agentPath
  }

  send(bytes: Uint8Array): number {
    return this.transmit(this.#agentPath, bytes, DATAPATH_TO_AGENT_MAX_BYTES)
  }

  onMessage(handler: DatapathMessageHandler | undefined): void {
    this.#handler = handler
  }

  protected deliver(bytes: Buffer, from: string | undefined): void {
    deliverToHandler(this.stats, this.#handler, bytes, from ?? '')
  }
}

class UnixAgent extends UnixEndpoint implements AgentTransport {
  #handler: AgentMessageHandler | undefined

  constructor(bound: BoundSocket, log: LogHook | undefined) {
    super(bound, DATAPATH_TO_AGENT_MAX_BYTES, log)
  }

  sendTo(address: string, bytes: Uint8Array): number {
    if (typeof address !== 'string' || address.length === 0 || address.includes('\0') || pathBytes(address) > MAX_PATH_BYTES) {
      // unix-dgram would silently truncate a long path to sun_path's size and send elsewhere.
      this.stats.sendFailed++
      return SendResult.EINVAL
    }
    return this.transmit(address, bytes, AGENT_TO_DATAPATH_MAX_BYTES)
  }

  onMessage(handler: AgentMessageHandler | undefined): void {
    this.#handler = handler
  }

  protected deliver(bytes: Buffer, from: string | undefined): void {
    if (from === undefined) {
      // An unbound sender cannot be answered (ccp-datapath.md, "Handshake": portus drops these too).
      this.stats.dropped.unaddressed++
      return
    }
    deliverToHandler(this.stats, this.#handler, bytes, from)
  }
}

/** `sockaddr_un.sun_path` holds 108 bytes on Linux (104 on the BSDs and macOS), including the final NUL. */
const MAX_PATH_BYTES = process.platform === 'linux' ? 107 : 103

const EIO = -(constants.errno.EIO ?? 5)

interface BoundSocket {
  socket: UnixDgramSocket
  path: string
  /** {@link fileIdentity} of the socket file just after binding. */
  identity: string
}

/** Device, inode and change time of a file: who made it, as far as `lstat` can tell. */
function fileIdentity(path: string): string {
  const stats = lstatSync(path, { bigint: true })
  return `${stats.dev}:${stats.ino}:${stats.ctimeNs}`
}

function pathBytes(path: string): number {
  return path.length * 3 <= MAX_PATH_BYTES ? path.length : Buffer.byteLength(path)
}

function checkDir(dir: unknown): string {
  if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) {
    throw new CcpIpcError('ERR_INVALID_ARG', `dir must be a non-empty directory path, got ${JSON.stringify(dir)}`)
  }
  // Absolute: the agent answers at the path the kernel reports for us, which must mean the same to it.
  return resolve(dir)
}

function checkName(option: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name === '.' || name === '..' || /[/\0]/.test(name)) {
    throw new CcpIpcError('ERR_INVALID_ARG', `${option} must be a socket file name (non-empty, no '/'), got ${JSON.stringify(name)}`)
  }
  return name
}

function checkPathLength(path: string): string {
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw new CcpIpcError(
      'ENAMETOOLONG',
      `the socket path ${path} is ${Buffer.byteLength(path)} bytes; a unix socket path holds at most ${MAX_PATH_BYTES}: choose a shorter dir or name`,
    )
  }
  return path
}

/** The errno value (negative) in a unix-dgram error; 1 ("congestion", connected sockets only) reads as EAGAIN. */
function errnoOf(error: UnixDgramError): number {
  const code = error?.code
  if (code === 1) return SendResult.EAGAIN
  return typeof code === 'number' && code < 0 ? code : EIO
}

function systemError(error: unknown, what: string): CcpIpcError {
  const code = (error as NodeJS.ErrnoException)?.code
  const name = typeof code === 'string' && code.startsWith('E') ? code : typeof code === 'number' ? sendResultName(code) : 'EIO'
  return new CcpIpcError(name as CcpIpcErrorCode, `${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error })
}

/** The socket directory: create it 0700 if missing; warn (and go on) if it is open to other users. */
function prepareDir(dir: string, log: LogHook | undefined): void {
  let created: string | undefined
  try {
    created = mkdirSync(dir, { recursive: true, mode: SOCKET_DIR_MODE })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR' || (error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CcpIpcError('ENOTDIR', `the socket directory ${dir} exists and is not a directory`, { cause: error })
    }
    throw systemError(error, `cannot create the socket directory ${dir}`)
  }
  if (created !== undefined) {
    // The umask may have taken bits from the mode given to mkdir; set it exactly.
    try {
      chmodSync(dir, SOCKET_DIR_MODE)
    } catch (error) {
      throw systemError(error, `cannot set the mode of the socket directory ${dir}`)
    }
    return
  }
  let stats: Stats
  try {
    stats = statSync(dir)
  } catch (error) {
    throw systemError(error, `cannot inspect the socket directory ${dir}`)
  }
  if (!stats.isDirectory()) throw new CcpIpcError('ENOTDIR', `the socket directory ${dir} exists and is not a directory`)
  // portus creates /tmp/ccp itself (with its umask's mode): looser is a warning, not a refusal.
  const mode = stats.mode & 0o777
  const uid = process.getuid?.()
  if ((mode & 0o077) !== 0 || (uid !== undefined && stats.uid !== uid)) {
    log?.(
      'warn',
      `the socket directory ${dir} has mode ${mode.toString(8).padStart(4, '0')} and owner ${stats.uid}; expected 0700 and ${uid ?? 'this user'}: other users may list and replace the sockets in it; continuing`,
      { dir, mode, uid: stats.uid },
    )
  }
}

/** Whether a live socket answers at `path`: connect a throwaway socket to it (connect sends nothing). */
function probeSocket(unix: UnixDgram, path: string): 'live' | 'stale' | 'gone' | CcpIpcError {
  let failure: UnixDgramError | undefined
  const probe = unix.createSocket('unix_dgram')
  probe.on('error', (error) => {
    failure = error
  })
  probe.connect(path)
  try {
    probe.close()
  } catch {
    // Nothing to release.
  }
  if (failure === undefined) return 'live'
  const result = errnoOf(failure)
  if (result === SendResult.ECONNREFUSED) return 'stale'
  if (result === SendResult.ENOENT) return 'gone'
  return new CcpIpcError(
    sendResultName(result) as CcpIpcErrorCode,
    `cannot tell whether the socket ${path} is in use (${sendResultName(result)}); not replacing it`,
  )
}

/** Prepare the directory, clear a stale socket, bind, set mode 0600. */
function bindSocketPath(unix: UnixDgram, dir: string, name: string, log: LogHook | undefined): BoundSocket {
  const path = checkPathLength(resolve(dir, name))
  prepareDir(dir, log)
  let existing: Stats | undefined
  try {
    existing = lstatSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw systemError(error, `cannot inspect ${path}`)
  }
  if (existing !== undefined) {
    if (!existing.isSocket()) {
      throw new CcpIpcError('EEXIST', `${path} exists and is not a socket; not replacing it: remove it or choose another name`)
    }
    const state = probeSocket(unix, path)
    if (state === 'live') {
      throw new CcpIpcError('EADDRINUSE', `another process is bound at ${path}: choose another name, or stop that process`)
    }
    if (state instanceof CcpIpcError) throw state
    if (state === 'stale') {
      try {
        unlinkSync(path)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw systemError(error, `cannot remove the stale socket ${path}`)
      }
      log?.('info', `replaced the stale socket ${path} (nobody was bound to it)`, { path })
    }
  }

  let socket: UnixDgramSocket
  try {
    socket = unix.createSocket('unix_dgram')
  } catch (error) {
    throw systemError({ code: errnoOf(error as UnixDgramError), message: (error as Error).message }, 'cannot create a unix datagram socket')
  }
  let bindError: UnixDgramError | undefined
  socket.on('error', (error) => {
    bindError ??= error
  })
  socket.bind(path) // synchronous: emits 'error' or 'listening' before returning
  if (bindError !== undefined) {
    const result = errnoOf(bindError)
    socket.close()
    const code = sendResultName(result)
    throw new CcpIpcError(
      code as CcpIpcErrorCode,
      code === 'EADDRINUSE' ? `another process bound ${path} first: choose another name` : `cannot bind ${path} (${code})`,
      { cause: bindError },
    )
  }
  socket.removeAllListeners('error')
  socket.on('error', (error) => log?.('error', `unix socket ${path}: ${error.message}`, { error }))
  let identity: string
  try {
    chmodSync(path, SOCKET_FILE_MODE)
    identity = fileIdentity(path)
  } catch (error) {
    socket.close()
    try {
      unlinkSync(path)
    } catch {
      // Best effort.
    }
    throw systemError(error, `cannot set the mode of the socket ${path}`)
  }
  return { socket, path, identity }
}
