import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { field, numberField } from './fixtures/frame-helpers.js'
import { arbitraryIpv6Bytes, capturedIpv6Frame, datagramOf, firstNumber } from './fixtures/ipv6-helpers.js'
import {
  emitIcmpv6,
  ICMPV6_ERROR_MAX_INVOKING,
  icmpv6ErrorAllowed,
  icmpv6Length,
  icmpv6Problem,
  Icmpv6RateLimiter,
  type Icmpv6Repr,
  Icmpv6Type,
  Icmpv6View,
  parseIcmpv6,
} from './icmpv6.js'
import { emitIpv6, IPV6_HEADER_LENGTH, IPV6_MIN_MTU, Ipv6View } from './ipv6.js'
import { parseIpv6Address } from './ipv6-address.js'
import { ipv6PseudoHeaderSum } from './ipv6-checksum.js'
import { Ipv6WireError } from './ipv6-errors.js'

/** The ICMPv6 message of a captured frame (no extension headers in these), parsed. */
function captured(name: string): { datagram: Uint8Array; message: Uint8Array; repr: Icmpv6Repr } {
  const datagram = datagramOf(capturedIpv6Frame(name))
  const message = datagram.subarray(IPV6_HEADER_LENGTH)
  const view = Icmpv6View.checked(message, ipv6PseudoHeaderSum(datagram, 8, 24, 58, message.byteLength))
  if (view instanceof Ipv6WireError) throw new Error(view.toString())
  return { datagram, message, repr: parseIcmpv6(view) }
}

function reemit(datagram: Uint8Array, repr: Icmpv6Repr): Uint8Array {
  const out = new Uint8Array(icmpv6Length(repr)).fill(0xa5)
  expect(emitIcmpv6(repr, out, 0, datagram.subarray(8, 24), datagram.subarray(24, 40))).toBe(out.byteLength)
  return out
}

const addr = (text: string): Uint8Array => parseIpv6Address(text)!

describe('ICMPv6 (RFC 4443)', () => {
  it('parses the captured echo request and reply (§4.1, §4.2) and rebuilds them byte for byte', () => {
    for (const name of ['echoRequest', 'echoReply']) {
      const frame = capturedIpv6Frame(name)
      const { datagram, message, repr } = captured(name)
      expect(repr.kind).toBe(name)
      if (repr.kind !== 'echoRequest' && repr.kind !== 'echoReply') throw new Error('not an echo')
      expect(repr.identifier).toBe(numberField(frame, 'icmpv6.echo.identifier'))
      expect(repr.sequenceNumber).toBe(numberField(frame, 'icmpv6.echo.sequence_number'))
      expect(repr.data.byteLength).toBe(message.byteLength - 8)
      expect(reemit(datagram, repr)).toEqual(message)
    }
  })

  it('parses the kernel\'s port unreachable (§3.1) and parameter problem (§3.4) and rebuilds them byte for byte', () => {
    const unreachable = captured('portUnreachable')
    expect(unreachable.repr).toMatchObject({ kind: 'destinationUnreachable', code: 4, value: 0 })
    expect(reemit(unreachable.datagram, unreachable.repr)).toEqual(unreachable.message)
    const problem = captured('parameterProblem')
    expect(problem.repr).toMatchObject({ kind: 'parameterProblem', code: 1, value: firstNumber(capturedIpv6Frame('parameterProblem'), 'icmpv6.pointer') })
    if (problem.repr.kind !== 'parameterProblem') throw new Error('not a parameter problem')
    const invoking = Ipv6View.checked(problem.repr.invoking)
    expect(invoking).toBeInstanceOf(Ipv6View)
    expect((invoking as Ipv6View).nextHeader).toBe(253)
    expect(reemit(problem.datagram, problem.repr)).toEqual(problem.message)
  })

  it('reports Neighbor Discovery and unknown types as other, with their body', () => {
    const { repr } = captured('neighborSolicitation')
    expect(repr).toMatchObject({ kind: 'other', type: Icmpv6Type.NEIGHBOR_SOLICITATION, code: 0 })
  })

  it('rejects a bad checksum and short messages by code', () => {
    const { datagram, message } = captured('echoRequest')
    const pseudo = ipv6PseudoHeaderSum(datagram, 8, 24, 58, message.byteLength)
    expect(icmpv6Problem(message, 0, message.byteLength, pseudo)).toBeUndefined()
    expect(icmpv6Problem(message, 0, message.byteLength, pseudo + 1)).toBe('BAD_CHECKSUM')
    expect(icmpv6Problem(message, 0, message.byteLength, pseudo + 1, 'skip')).toBeUndefined()
    expect(icmpv6Problem(message, 0, 7, pseudo, 'skip')).toBe('TRUNCATED')
    expect(icmpv6Problem(message, 0, 3, pseudo, 'skip')).toBe('TRUNCATED')
    expect((Icmpv6View.checked(message.subarray(0, 2), 0) as Ipv6WireError).code).toBe('TRUNCATED')
  })

  it('cuts the invoking packet so the error datagram fits in 1280 bytes (§2.4 (c))', () => {
    const invoking = new Uint8Array(3000).map((_, i) => i & 0xff)
    const repr: Icmpv6Repr = { kind: 'packetTooBig', code: 0, value: 1400, invoking }
    const length = icmpv6Length(repr)
    expect(IPV6_HEADER_LENGTH + length).toBe(IPV6_MIN_MTU)
    const out = new Uint8Array(length)
    emitIcmpv6(repr, out, 0, addr('fd99::1'), addr('fd99::2'))
    expect(out.subarray(8)).toEqual(invoking.subarray(0, ICMPV6_ERROR_MAX_INVOKING))
    const view = Icmpv6View.checked(out, ipv6PseudoHeaderSum(Uint8Array.from([...addr('fd99::1'), ...addr('fd99::2')]), 0, 16, 58, length))
    expect(parseIcmpv6(view as Icmpv6View)).toMatchObject({ kind: 'packetTooBig', value: 1400 })
    const small: Icmpv6Repr = { kind: 'timeExceeded', code: 1, value: 0, invoking: invoking.subarray(0, 100) }
    expect(icmpv6Length(small)).toBe(108)
  })

  it('stores the folded pseudo-header sum when the checksum is offloaded', () => {
    const out = new Uint8Array(8)
    emitIcmpv6({ kind: 'echoRequest', identifier: 1, sequenceNumber: 2, data: new Uint8Array(0) }, out, 0, addr('fd99::1'), addr('fd99::2'), 'offload')
    const pseudo = ipv6PseudoHeaderSum(Uint8Array.from([...addr('fd99::1'), ...addr('fd99::2')]), 0, 16, 58, 8)
    let folded = pseudo
    while (folded > 0xffff) folded = (folded & 0xffff) + Math.floor(folded / 0x10000)
    expect((out[2]! << 8) | out[3]!).toBe(folded)
  })

  it('rejects fields out of range and small buffers', () => {
    expect(() => emitIcmpv6({ kind: 'echoReply', identifier: 65536, sequenceNumber: 0, data: new Uint8Array(0) }, new Uint8Array(8), 0, addr('::1'), addr('::1'))).toThrow(/identifier/)
    expect(() => emitIcmpv6({ kind: 'echoReply', identifier: 0, sequenceNumber: 0, data: new Uint8Array(1) }, new Uint8Array(8), 0, addr('::1'), addr('::1'))).toThrow(/needs 9 bytes/)
  })

  describe('when not to send an error (§2.4 (e))', () => {
    const datagram = (src: string, dst: string, nextHeader: number, upper: number[]): Uint8Array => {
      const out = new Uint8Array(40 + upper.length)
      emitIpv6({ src: addr(src), dst: addr(dst), nextHeader, hopLimit: 64, payloadLength: upper.length }, out)
      out.set(upper, 40)
      return out
    }
    it('allows an error about a unicast datagram from a unicast source', () => {
      expect(icmpv6ErrorAllowed(datagram('fd99::1', 'fd99::2', 17, [0, 0, 0, 0, 0, 8, 0, 0]), false, 1, 4)).toBe(true)
      expect(icmpv6ErrorAllowed(datagramOf(capturedIpv6Frame('echoRequest')), false, 1, 4)).toBe(true)
    })
    it('refuses one about an ICMPv6 error or a redirect (e.1, e.2)', () => {
      expect(icmpv6ErrorAllowed(datagramOf(capturedIpv6Frame('portUnreachable')), false, 4, 0)).toBe(false)
      expect(icmpv6ErrorAllowed(datagram('fd99::1', 'fd99::2', 58, [137, 0, 0, 0, 0, 0, 0, 0]), false, 4, 0)).toBe(false)
    })
    it('refuses one about multicast or link broadcast, except packet too big and parameter problem code 2 (e.3-e.5)', () => {
      const toGroup = datagram('fd99::1', 'ff02::1', 17, [0, 0, 0, 0, 0, 8, 0, 0])
      expect(icmpv6ErrorAllowed(toGroup, false, 1, 4)).toBe(false)
      expect(icmpv6ErrorAllowed(toGroup, false, 2, 0)).toBe(true)
      expect(icmpv6ErrorAllowed(toGroup, false, 4, 2)).toBe(true)
      expect(icmpv6ErrorAllowed(toGroup, false, 4, 0)).toBe(false)
      expect(icmpv6ErrorAllowed(datagram('fd99::1', 'fd99::2', 17, []), true, 1, 4)).toBe(false)
    })
    it('refuses one to an unspecified or multicast source (e.6)', () => {
      expect(icmpv6ErrorAllowed(datagram('::', 'fd99::2', 17, []), false, 1, 4)).toBe(false)
      expect(icmpv6ErrorAllowed(datagram('ff02::1', 'fd99::2', 17, []), false, 2, 0)).toBe(false)
      expect(icmpv6ErrorAllowed(new Uint8Array(10), false, 2, 0)).toBe(false)
    })
  })

  it('rate-limits errors with a token bucket on the caller\'s clock (§2.4 (f))', () => {
    const limiter = new Icmpv6RateLimiter(2, 2)
    expect([limiter.allow(0), limiter.allow(0), limiter.allow(0)]).toEqual([true, true, false])
    expect(limiter.allow(400_000)).toBe(false) // 0.8 token
    expect(limiter.allow(500_000)).toBe(true) // 1 token after 0.5 s at 2/s
    expect(limiter.allow(10_000_000)).toBe(true)
    expect(limiter.allow(10_000_000)).toBe(true)
    expect(limiter.allow(10_000_000)).toBe(false) // the burst caps the saved tokens
    expect(() => new Icmpv6RateLimiter(0)).toThrow(RangeError)
  })

  it('never throws on arbitrary messages', () => {
    fc.assert(
      fc.property(arbitraryIpv6Bytes, fc.nat(), fc.boolean(), (bytes, pseudo, linkMulticast) => {
        const problem = icmpv6Problem(bytes, 0, bytes.byteLength, pseudo, 'skip')
        if (problem === undefined) parseIcmpv6(Icmpv6View.checked(bytes, pseudo, 'skip') as Icmpv6View)
        icmpv6ErrorAllowed(bytes, linkMulticast, 1, 0)
      }),
      { numRuns: 2000 },
    )
  })

  it('has a tshark-consistent checksum field', () => {
    const { message } = captured('echoReply')
    expect((message[2]! << 8) | message[3]!).toBe(Number(field(capturedIpv6Frame('echoReply'), 'icmpv6.checksum')))
  })
})
