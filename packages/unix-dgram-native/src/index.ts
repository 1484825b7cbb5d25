/**
 * `@mtcp/unix-dgram-native`: unix datagram sockets for Node on Linux, as a small N-API addon (shipped
 * prebuilt for linux-x64, built from source only as a fallback). What `node:dgram` lacks and CCP needs:
 * a `SOCK_DGRAM` socket bound to a path, non-blocking `sendto` a path (a full receiver answers `-EAGAIN`
 * at once, nothing is queued), and on each wake-up of the event loop every queued datagram read, with
 * its sender's path and, through `SO_PASSCRED`, the sender's uid and pid. Context-aware: a socket polls
 * the event loop of the thread (main or worker) that opened it.
 * See docs/decisions/0021-unix-datagrams-through-our-own-addon.md.
 * @module
 */
import { createRequire } from 'node:module'

/** Receives one datagram: its bytes (a fresh copy), the sender's path (null: an unbound sender, or one in the abstract namespace), its uid and pid (-1 when unknown). */
export type DatagramHandler = (bytes: Buffer, from: string | null, uid: number, pid: number) => void

/** The addon's functions. @internal */
interface Binding {
  open(path: string, onMessage: DatagramHandler): object | number
  send(handle: object, bytes: Uint8Array, path: string): number
  close(handle: object): void
  probe(path: string): number
}

/** Thrown by {@link bindUnixDatagram} and {@link probeUnixSocket} when the addon is not available. */
export class UnixDgramNativeError extends Error {
  override readonly name = 'UnixDgramNativeError'
  /** `ERR_UNIX_DGRAM_NATIVE_UNAVAILABLE`: not Linux, or no prebuild for this platform and no build. */
  readonly code = 'ERR_UNIX_DGRAM_NATIVE_UNAVAILABLE'
}

const packageRoot = new URL('..', import.meta.url).pathname
let binding: Binding | undefined
let unavailableReason: string | undefined

function load(): Binding {
  if (binding !== undefined) return binding
  if (unavailableReason !== undefined) throw new UnixDgramNativeError(unavailableReason)
  if (process.platform !== 'linux') {
    unavailableReason = `unix datagram sockets with credentials need Linux, this is ${process.platform}`
    throw new UnixDgramNativeError(unavailableReason)
  }
  const require = createRequire(import.meta.url)
  let first: unknown
  try {
    binding = (require('node-gyp-build') as (dir: string) => Binding)(packageRoot)
    return binding
  } catch (error) {
    first = error
  }
  try {
    binding = require(`${packageRoot}build/Release/unix_dgram_native.node`) as Binding
    return binding
  } catch {
    // keep the first error: it names what node-gyp-build looked for
  }
  const detail = first instanceof Error ? first.message.split('\n')[0] : String(first)
  unavailableReason = `no prebuilt addon for ${process.platform}-${process.arch} and none built (install a C compiler, make, python3 and node-gyp, then \`npm rebuild @mtcp/unix-dgram-native\`): ${detail}`
  throw new UnixDgramNativeError(unavailableReason)
}

/** Whether the addon loads here (a prebuild for this platform, or a build from source). */
export function isAvailable(): boolean {
  try {
    load()
    return true
  } catch {
    return false
  }
}

/**
 * A bound unix datagram socket. Every method is synchronous and reports I/O errors as negative errno
 * values, never as exceptions.
 */
export class UnixDatagramSocket {
  /** The path it is bound to. */
  readonly path: string
  readonly #binding: Binding
  #handle: object | undefined

  /** @internal */
  constructor(binding: Binding, handle: object, path: string) {
    this.#binding = binding
    this.#handle = handle
    this.path = path
  }

  /**
   * Send `bytes` to the socket bound at `path`, without waiting: 0 when it is in the receiver's queue,
   * else `-errno`: `-EAGAIN` its queue is full, `-ENOENT` / `-ECONNREFUSED` nobody is bound there,
   * `-EMSGSIZE`, `-ENAMETOOLONG` (over 107 bytes), `-EBADF` once closed, `-EINVAL` for a bad argument.
   */
  send(bytes: Uint8Array, path: string): number {
    if (this.#handle === undefined) return -9 // EBADF
    return this.#binding.send(this.#handle, bytes, path)
  }

  /** Stop receiving and close the socket (the path stays: unlink it yourself). Idempotent. */
  close(): void {
    if (this.#handle === undefined) return
    this.#binding.close(this.#handle)
    this.#handle = undefined
  }
}

/**
 * Bind a unix datagram socket at `path` and call `onMessage` with each datagram that arrives, on this
 * thread's event loop. Returns the socket, or `-errno` when it cannot bind (`-EADDRINUSE`, `-EACCES`,
 * `-ENOENT` for a missing directory, `-ENAMETOOLONG`).
 * @throws {UnixDgramNativeError} when the addon is not available.
 *
 * @example
 * ```ts
 * const socket = bindUnixDatagram('/tmp/ccp/mtcp-1', (bytes, from, uid) => console.log(bytes.length, from, uid))
 * if (typeof socket === 'number') throw new Error(`bind: ${socket}`)
 * socket.send(new Uint8Array([5, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0]), '/tmp/ccp/portus')
 * ```
 */
export function bindUnixDatagram(path: string, onMessage: DatagramHandler): UnixDatagramSocket | number {
  const native = load()
  if (typeof path !== 'string') return -22 // EINVAL
  if (typeof onMessage !== 'function') return -22
  const handle = native.open(path, onMessage)
  return typeof handle === 'number' ? handle : new UnixDatagramSocket(native, handle, path)
}

/**
 * Whether a socket is bound at `path`: 0 when one answers (a throwaway socket connects; nothing is sent),
 * `-ECONNREFUSED` for a stale socket file, `-ENOENT` for none, or another `-errno`.
 * @throws {UnixDgramNativeError} when the addon is not available.
 */
export function probeUnixSocket(path: string): number {
  const native = load()
  if (typeof path !== 'string') return -22
  return native.probe(path)
}
