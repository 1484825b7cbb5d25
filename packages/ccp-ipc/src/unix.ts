/**
 * The unix-datagram transport, on portus's paths (docs/decisions/0008-unix-datagrams-through-unix-dgram.md):
 * the agent binds `/tmp/ccp/portus`; each datapath binds `/tmp/ccp/<name>` and sends to the agent from that
 * same socket, because portus answers at the sender's address and drops datagrams from unbound senders.
 *
 * Everything is non-blocking and on the event loop of the thread that opened the transport:
 * `@mtcp/unix-dgram-native` opens its sockets `SOCK_NONBLOCK`, reports a full receiver as `EAGAIN` at once
 * (a send never waits), and reads every queued datagram on each wake-up with its sender's path and
 * credentials. A datagram that cannot be sent is dropped and counted, never queued: CCP messages are
 * reports and updates, and the next one supersedes a lost one. A datapath takes datagrams only from its
 * agent's path and from this user or root (docs/decisions/0020-ccp-datapath-sends-and-resync.md,
 * docs/decisions/0021-unix-datagrams-through-our-own-addon.md).
 * @module
 */
import { chmodSync, lstatSync, mkdirSync, type Stats, statSync, unlinkSync } from 'node:fs'
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
import { loadUnixDgram, type NativeDgram, type NativeSocket } from './native-loader.js'

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
 * Throws {@link CcpIpcError}: `ERR_UNIX_DGRAM_UNAVAILABLE` without `@mtcp/unix-dgram-native`'s addon,
 * `ERR_UNSAFE_SOCKET_DIR` for a directory others may write in, `EADDRINUSE` when a live process is bound at the path,
 * `EEXIST` when a non-socket file is there, `ENAMETOOLONG` for a path over 107 bytes, `ERR_INVALID_ARG`
 * for a bad name, or the OS error's name (`EACCES`, …).
 */
export function openUnixDatapath(options: UnixDatapathOptions): DatapathTransport {
  const { dir = DEFAULT_SOCKET_DIR, name, agent = DEFAULT_AGENT_NAME, log } = options ?? ({} as Partial<UnixDatapathOptions>)
  const directory = checkDir(dir)
  const agentPath = checkPathLength(resolve(directory, checkName('agent', agent)))
  checkName('name', name)
  const unix = loadUnixDgram()
  const endpoint = new UnixDatapath(agentPath, log)
  endpoint.attach(bindSocketPath(unix, directory, name!, log, endpoint.onDatagram))
  return endpoint
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
  const endpoint = new UnixAgent(log)
  endpoint.attach(bindSocketPath(unix, directory, name, log, endpoint.onDatagram))
  return endpoint
}

/** One bound socket, the part both ends share. */
abstract class UnixEndpoint {
  address = ''
  readonly stats: TransportStats = createStats()
  #socket: NativeSocket | undefined
  #identity = ''
  readonly #receiveLimit: number
  readonly #log: LogHook | undefined
  #closed = false
  /** The addon's callback for each datagram (bound once). @internal */
  readonly onDatagram = (bytes: Buffer, from: string | null, uid: number): void => this.#receive(bytes, from ?? undefined, uid)

  constructor(receiveLimit: number, log: LogHook | undefined) {
    this.#receiveLimit = receiveLimit
    this.#log = log
  }

  /** Take the bound socket (opening binds it with {@link onDatagram} as its handler). @internal */
  attach(bound: BoundSocket): void {
    this.address = bound.path
    this.#socket = bound.socket
    this.#identity = bound.identity
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
    if (this.#closed || this.#socket === undefined) {
      this.stats.sendFailed++
      return SendResult.EBADF
    }
    const result = this.#socket.send(bytes, path)
    if (result === 0) {
      this.stats.sent++
      return 0
    }
    if (isCongestion(result)) {
      // A full receive queue: drop, do not wait. The next report supersedes this one.
      this.stats.dropped.congested++
      return SendResult.EAGAIN
    }
    this.stats.sendFailed++
    return result
  }

  /** Hand one checked datagram to the handler, or count why not. */
  protected abstract deliver(bytes: Buffer, from: string | undefined, uid: number): void

  #receive(bytes: Buffer, from: string | undefined, uid: number): void {
    if (this.#closed) return
    const problem = checkDatagram(bytes, this.#receiveLimit)
    if (problem !== undefined) {
      this.stats.dropped[problem]++
      return
    }
    this.deliver(bytes, from, uid)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    try {
      this.#socket?.close()
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

/** This process's uid (-1 where there is none). */
const OUR_UID = process.getuid?.() ?? -1

class UnixDatapath extends UnixEndpoint implements DatapathTransport {
  readonly #agentPath: string
  #handler: DatapathMessageHandler | undefined

  constructor(agentPath: string, log: LogHook | undefined) {
    super(AGENT_TO_DATAPATH_MAX_BYTES, log)
    this.#agentPath = agentPath
  }

  send(bytes: Uint8Array): number {
    return this.transmit(this.#agentPath, bytes, DATAPATH_TO_AGENT_MAX_BYTES)
  }

  onMessage(handler: DatapathMessageHandler | undefined): void {
    this.#handler = handler
  }

  protected deliver(bytes: Buffer, from: string | undefined, uid: number): void {
    // Only the agent may speak: its path, and this user or root by the kernel's credentials (SO_PASSCRED).
    // Anyone else who can reach our socket is dropped and counted.
    if (from !== this.#agentPath || (uid !== OUR_UID && uid !== 0)) {
      this.stats.dropped.foreign++
      return
    }
    deliverToHandler(this.stats, this.#handler, bytes, from)
  }
}

class UnixAgent extends UnixEndpoint implements AgentTransport {
  #handler: AgentMessageHandler | undefined

  constructor(log: LogHook | undefined) {
    super(DATAPATH_TO_AGENT_MAX_BYTES, log)
  }

  sendTo(address: string, bytes: Uint8Array): number {
    if (typeof address !== 'string' || address.length === 0 || address.includes('\0') || pathBytes(address) > MAX_PATH_BYTES) {
      // Refused here with the other argument checks (the addon answers ENAMETOOLONG too).
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

interface BoundSocket {
  socket: NativeSocket
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

function systemError(error: unknown, what: string): CcpIpcError {
  const code = (error as NodeJS.ErrnoException)?.code
  const name = typeof code === 'string' && code.startsWith('E') ? code : typeof code === 'number' ? sendResultName(code) : 'EIO'
  return new CcpIpcError(name as CcpIpcErrorCode, `${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error })
}

/**
 * The socket directory: create it 0700 if missing. An existing one must not be writable by anyone but its
 * owner, who must be this user or root: whoever can write in it can replace the agent's socket with their
 * own and steer every flow. The datapath also checks each datagram's sender by the kernel's credentials
 * (`SO_PASSCRED`): this user or root (docs/decisions/0020-ccp-datapath-sends-and-resync.md).
 */
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
  const mode = stats.mode & 0o7777
  const uid = process.getuid?.()
  const octal = mode.toString(8).padStart(4, '0')
  if ((mode & 0o022) !== 0) {
    throw new CcpIpcError(
      'ERR_UNSAFE_SOCKET_DIR',
      `the socket directory ${dir} has mode ${octal}: users other than its owner may write in it and replace the agent's socket; make it 0755 or 0700 (\`chmod go-w ${dir}\`), or choose another directory`,
    )
  }
  if (uid !== undefined && stats.uid !== uid && stats.uid !== 0) {
    throw new CcpIpcError(
      'ERR_UNSAFE_SOCKET_DIR',
      `the socket directory ${dir} belongs to user ${stats.uid}, not to this user (${uid}) or root: that user could replace the agent's socket; run the agent and the datapath as one user, or choose another directory`,
    )
  }
  // portus creates /tmp/ccp itself with its umask's mode (0755): readable by others is told, not refused.
  if ((mode & 0o077) !== 0) {
    log?.('info', `the socket directory ${dir} has mode ${octal}: other users may list the sockets in it (not write)`, { dir, mode, uid: stats.uid })
  }
}

/** Whether a live socket answers at `path`: connect a throwaway socket to it (connect sends nothing). */
function probeSocket(unix: NativeDgram, path: string): 'live' | 'stale' | 'gone' | CcpIpcError {
  const result = unix.probeUnixSocket(path)
  if (result === 0) return 'live'
  if (result === SendResult.ECONNREFUSED) return 'stale'
  if (result === SendResult.ENOENT) return 'gone'
  return new CcpIpcError(
    sendResultName(result) as CcpIpcErrorCode,
    `cannot tell whether the socket ${path} is in use (${sendResultName(result)}); not replacing it`,
  )
}

/** Prepare the directory, clear a stale socket, bind, set mode 0600. */
function bindSocketPath(unix: NativeDgram, dir: string, name: string, log: LogHook | undefined, onMessage: (bytes: Buffer, from: string | null, uid: number) => void): BoundSocket {
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

  const socket = unix.bindUnixDatagram(path, onMessage)
  if (typeof socket === 'number') {
    const code = sendResultName(socket)
    throw new CcpIpcError(code as CcpIpcErrorCode, code === 'EADDRINUSE' ? `another process bound ${path} first: choose another name` : `cannot bind ${path} (${code})`)
  }
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
