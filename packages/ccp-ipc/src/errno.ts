/**
 * Send results as negative errno values, the convention of libccp's `send_msg` and of
 * `@mtcp/unix-dgram-native` (which reports a failed `sendto(2)` as `-errno`). The numbers are this platform's.
 * @module
 */
import { constants } from 'node:os'

const errno = constants.errno

/**
 * What `send` / `sendTo` return: `0` when the datagram was handed to the peer's queue, otherwise a
 * negative errno value. The ones a transport produces itself:
 * - {@link SendResult.ENOENT} / {@link SendResult.ECONNREFUSED}: nobody is bound at the peer's address
 *   (no socket file, or a stale one): the agent is not there. See {@link isPeerAbsent}.
 * - {@link SendResult.EAGAIN}: the peer is there but its receive queue is full; the datagram was dropped.
 * - {@link SendResult.EMSGSIZE}: larger than the peer accepts (1024 bytes towards the agent); not sent.
 * - {@link SendResult.EINVAL}: not a well-formed CCP message (header length ≠ size, unknown type); not sent.
 * - {@link SendResult.EBADF}: the transport is closed.
 *
 * Any other negative value is the operating system's answer to `sendmsg(2)` (for example `-EACCES`).
 */
export const SendResult = {
  /** Sent. */
  OK: 0,
  /** No socket at the peer's address. */
  ENOENT: -(errno.ENOENT ?? 2),
  /** A socket file without a live socket behind it (the peer exited without removing it). */
  ECONNREFUSED: -(errno.ECONNREFUSED ?? 111),
  /** The peer's receive queue is full: the datagram was dropped (counted as `dropped.congested`). */
  EAGAIN: -(errno.EAGAIN ?? 11),
  /** Larger than the peer accepts: not sent (counted as `dropped.oversized`). */
  EMSGSIZE: -(errno.EMSGSIZE ?? 90),
  /** Not a well-formed CCP message: not sent (counted as `dropped.malformed`). */
  EINVAL: -(errno.EINVAL ?? 22),
  /** The transport is closed. */
  EBADF: -(errno.EBADF ?? 9),
} as const

let names: Map<number, string> | undefined

/**
 * The errno name of a negative send result (`-2` → `'ENOENT'`), `'OK'` for 0, or `'E<number>'` for an
 * unknown value. For logs.
 */
export function sendResultName(result: number): string {
  if (result === 0) return 'OK'
  if (names === undefined) {
    names = new Map()
    for (const [name, value] of Object.entries(errno)) {
      // Some platforms alias a value (EWOULDBLOCK = EAGAIN): keep the first, conventional name.
      if (!names.has(value)) names.set(value, name)
    }
  }
  return names.get(-result) ?? `E${-result}`
}

/**
 * Whether a send result means nobody is listening at the peer's address (`ENOENT`: no socket file;
 * `ECONNREFUSED`: a stale one): that is how a datapath learns the agent has gone. `EAGAIN` (the agent is
 * there but behind) is not absence.
 */
export function isPeerAbsent(result: number): boolean {
  return result === SendResult.ENOENT || result === SendResult.ECONNREFUSED
}

/** Whether an errno value (negative) means the receiver's queue is full. @internal */
export function isCongestion(result: number): boolean {
  return result === SendResult.EAGAIN || result === -(errno.EWOULDBLOCK ?? 11) || result === -(errno.ENOBUFS ?? 105)
}
