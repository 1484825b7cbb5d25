/**
 * Loading `unix-dgram` (CommonJS, with a C++ addon), lazily and optionally: the in-process channel and
 * everything else in this package work without it. See docs/decisions/0008-unix-datagrams-through-unix-dgram.md.
 * @module
 */
import { createRequire } from 'node:module'
import { isMainThread } from 'node:worker_threads'
import { CcpIpcError } from './errors.js'

/** The error `unix-dgram` gives a send callback: `code` is `-errno`, or 1 for "congestion" (connected sockets). @internal */
export interface UnixDgramError extends Error {
  code?: unknown
}

/** The part of a `unix-dgram` socket this package uses. @internal */
export interface UnixDgramSocket {
  bind(path: string): void
  connect(path: string): void
  send(buffer: Uint8Array, offset: number, length: number, path: string, callback: (error?: UnixDgramError) => void): void
  close(): void
  on(event: 'message', listener: (buffer: Buffer, info: { path?: string | null }) => void): this
  on(event: 'error', listener: (error: UnixDgramError) => void): this
  on(event: 'listening' | 'connect' | 'writable', listener: () => void): this
  removeAllListeners(event?: string): this
}

/** The `unix-dgram` module. @internal */
export interface UnixDgram {
  createSocket(type: 'unix_dgram', listener?: (buffer: Buffer, info: { path?: string | null }) => void): UnixDgramSocket
}

const defaultRequire = createRequire(import.meta.url)
let cached: UnixDgram | undefined

/**
 * Load `unix-dgram`, once. Throws `ERR_UNIX_DGRAM_MAIN_THREAD` off the main thread (its addon is not
 * context-aware and polls the main thread's loop: loaded in a worker it fails to load, or aborts the
 * process on the first datagram), and `ERR_UNIX_DGRAM_UNAVAILABLE`, naming what to install, when it is
 * missing or not built. `load` is for tests.
 * @internal
 */
export function loadUnixDgram(load: (id: string) => unknown = defaultRequire, mainThread = isMainThread): UnixDgram {
  if (!mainThread) {
    throw new CcpIpcError(
      'ERR_UNIX_DGRAM_MAIN_THREAD',
      'the unix transport must be opened on the main thread: unix-dgram polls the main event loop and cannot run in a worker; open it on the main thread and relay messages to the worker, or use the in-process channel',
    )
  }
  if (cached !== undefined && load === defaultRequire) return cached
  let module: UnixDgram
  try {
    module = load('unix-dgram') as UnixDgram
    if (typeof module?.createSocket !== 'function') throw new TypeError('unix-dgram has no createSocket()')
  } catch (error) {
    throw new CcpIpcError(
      'ERR_UNIX_DGRAM_UNAVAILABLE',
      `the unix transport needs the optional dependency unix-dgram (2.0.7), whose C++ addon is missing or not built: install a C++ toolchain and python3 (for example \`apt-get install build-essential python3\`), then reinstall (\`npm install\`, or \`npm rebuild unix-dgram\`); the in-process channel (InProcessHub) works without it (${(error as Error)?.message ?? String(error)})`,
      { cause: error },
    )
  }
  if (load === defaultRequire) cached = module
  return module
}
