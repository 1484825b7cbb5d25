/**
 * Initial sequence numbers, RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
 * M a timer ticking every 4 µs, F a keyed pseudo-random function: HalfSipHash-2-4 keyed with 64 secret bits.
 * @module
 */
import { halfSipHash24, halfSipHash24x4, type Micros } from '@mtcp/primitives'

/** 64 bits of secret key as two uint32s. Generate once per stack with a CSPRNG (`crypto.getRandomValues`). */
export type IsnSecret = readonly [number, number]

/**
 * The keyed function F of RFC 6528 over the connection's 4-tuple (IPv4 addresses as uint32):
 * HalfSipHash-2-4 (`@mtcp/primitives`, the one keyed hash of the packages) of the local address, the
 * remote address, and the local port · 2^16 + the remote port.
 */
export function isnOffset(secret: IsnSecret, localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
  return halfSipHash24(secret[0], secret[1], localIp | 0, remoteIp | 0, ((localPort & 0xffff) << 16) | (remotePort & 0xffff))
}

/**
 * A keyed 32-bit function of a 4-tuple and one more word, `tweak`, that separates its uses (the SYN
 * cookie's hashes, the timestamp offset, RFC 6056's port functions, each also under its own key):
 * HalfSipHash-2-4 of the 16 bytes local address, remote address, local port · 2^16 + remote port, tweak.
 */
export function keyedTupleHash(secret: IsnSecret, localIp: number, localPort: number, remoteIp: number, remotePort: number, tweak: number): number {
  return halfSipHash24x4(secret[0], secret[1], localIp | 0, remoteIp | 0, ((localPort & 0xffff) << 16) | (remotePort & 0xffff), tweak | 0)
}

/** RFC 6528 ISN for a connection opened at `now` µs. */
export function initialSequenceNumber(
  secret: IsnSecret,
  now: Micros,
  localIp: number,
  localPort: number,
  remoteIp: number,
  remotePort: number,
): number {
  const ticks = Math.floor(now / 4) % 0x100000000 // M: 4 µs per tick, RFC 6528 §3 / RFC 9293 §3.4.1
  return (ticks + isnOffset(secret, localIp, localPort, remoteIp, remotePort)) >>> 0
}
