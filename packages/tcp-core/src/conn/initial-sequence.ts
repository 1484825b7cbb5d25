/**
 * Initial sequence numbers, RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
 * M a timer ticking every 4 µs, F a keyed pseudo-random function. F here is a 32-bit SipHash-style ARX
 * function (2 compression rounds per word, 4 finalisation rounds) keyed with 64 secret bits.
 * @module
 */
import type { Micros } from '../congestion/congestion-control.js'

/** 64 bits of secret key as two uint32s. Generate once per stack with a CSPRNG (`crypto.getRandomValues`). */
export type IsnSecret = readonly [number, number]

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b))
}

/** The keyed function F of RFC 6528 over the connection's 4-tuple (IPv4 addresses as uint32). */
export function isnOffset(secret: IsnSecret, localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
  return keyedTupleHash(secret, localIp, localPort, remoteIp, remotePort, 12 << 24)
}

/**
 * The keyed 32-bit function behind {@link isnOffset}, with its last absorbed word free: `tweak` separates
 * the uses of one construction (the ISN's F uses `12 << 24`, its length block; the SYN cookie's hashes
 * and the timestamp offset use other words and other keys). Words in order: localIp, remoteIp,
 * localPort << 16 | remotePort, tweak; two compression rounds per word, four finalisation rounds.
 */
export function keyedTupleHash(secret: IsnSecret, localIp: number, localPort: number, remoteIp: number, remotePort: number, tweak: number): number {
  let v0 = secret[0] | 0
  let v1 = secret[1] | 0
  let v2 = 0x6c796765 ^ v0
  let v3 = 0x74656462 ^ v1
  const round = (): void => {
    v0 = (v0 + v1) | 0
    v1 = rotl(v1, 5) ^ v0
    v0 = rotl(v0, 16)
    v2 = (v2 + v3) | 0
    v3 = rotl(v3, 8) ^ v2
    v0 = (v0 + v3) | 0
    v3 = rotl(v3, 7) ^ v0
    v2 = (v2 + v1) | 0
    v1 = rotl(v1, 13) ^ v2
    v2 = rotl(v2, 16)
  }
  const absorb = (m: number): void => {
    v3 ^= m
    round()
    round()
    v0 ^= m
  }
  absorb(localIp | 0)
  absorb(remoteIp | 0)
  absorb(((localPort & 0xffff) << 16) | (remotePort & 0xffff))
  absorb(tweak | 0) // for the ISN: the length byte, as SipHash's final block
  v2 ^= 0xff
  round()
  round()
  round()
  round()
  return (v1 ^ v3) >>> 0
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
