/**
 * Loading `@mtcp/unix-dgram-native` (our N-API addon for unix datagram sockets), lazily and optionally:
 * the in-process channel and everything else in this package work without it. See
 * docs/decisions/0021-unix-datagrams-through-our-own-addon.md.
 * @module
 */
import { createRequire } from 'node:module'
import { CcpIpcError } from './errors.js'

/** Receives one datagram with its sender's path (null: unbound) and uid / pid (-1: unknown). @internal */
export type NativeHandler = (bytes: Buffer, from: string | null, uid: number, pid: number) => void

/** A bound socket of the addon. @internal */
export interface NativeSocket {
  send(bytes: Uint8Array, path: string): number
  close(): void
}

/** The part of `@mtcp/unix-dgram-native` this package uses. @internal */
export interface NativeDgram {
  bindUnixDatagram(path: string, onMessage: NativeHandler): NativeSocket | number
  probeUnixSocket(path: string): number
  isAvailable(): boolean
}

const defaultRequire = createRequire(import.meta.url)
let cached: NativeDgram | undefined

/**
 * Load `@mtcp/unix-dgram-native`, once. Throws `ERR_UNIX_DGRAM_UNAVAILABLE`, naming what to do, when it is
 * not installed or its addon does not load here. `load` is for tests.
 * @internal
 */
export function loadUnixDgram(load: (id: string) => unknown = defaultRequire): NativeDgram {
  if (cached !== undefined && load === defaultRequire) return cached
  let module: NativeDgram
  try {
    module = load('@mtcp/unix-dgram-native') as NativeDgram
    if (typeof module?.bindUnixDatagram !== 'function' || typeof module.probeUnixSocket !== 'function') {
      throw new TypeError('@mtcp/unix-dgram-native has no bindUnixDatagram()')
    }
    if (!module.isAvailable()) {
      // Throws the addon's own reason (no prebuild for this platform and no build).
      module.bindUnixDatagram('', () => {})
    }
  } catch (error) {
    throw new CcpIpcError(
      'ERR_UNIX_DGRAM_UNAVAILABLE',
      `the unix transport needs the optional dependency @mtcp/unix-dgram-native, whose addon is missing or not built here (it ships prebuilt for linux-x64; elsewhere install a C compiler, make, python3 and node-gyp, then \`npm rebuild @mtcp/unix-dgram-native\`); the in-process channel (InProcessHub) works without it (${(error as Error)?.message ?? String(error)})`,
      { cause: error },
    )
  }
  if (load === defaultRequire) cached = module
  return module
}
