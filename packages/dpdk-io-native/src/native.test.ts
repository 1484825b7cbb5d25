import { execFileSync } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  close,
  decodeVnetHeader,
  encodeVnetHeader,
  nativeAvailable,
  nativeUnavailableReason,
  packetOpen,
  portsFanoutHash,
  readBurst,
  tapOpen,
  unwatch,
  VNET_HEADER_LENGTH,
  VnetFlags,
  VnetGsoType,
  watch,
  writeBurst,
  type NativeError,
} from './index.js'

const isRoot = process.getuid?.() === 0
const available = nativeAvailable()
const inCI = !!process.env.CI

describe('addon', () => {
  it.runIf(inCI)('is available in CI', () => {
    expect(nativeUnavailableReason()).toBeUndefined()
    expect(available).toBe(true)
  })

  it.runIf(!available)('throws ERR_NATIVE_UNAVAILABLE with a fix when missing', () => {
    expect(() => close(0)).toThrow(expect.objectContaining({ code: 'ERR_NATIVE_UNAVAILABLE' }))
    expect(nativeUnavailableReason()).toMatch(/install\.cjs --strict|Linux/)
  })
})

describe('virtio-net header helpers', () => {
  it('round-trips every field', () => {
    const h = { flags: VnetFlags.NEEDS_CSUM, gsoType: VnetGsoType.TCPV4, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16 }
    const bytes = encodeVnetHeader(h, new Uint8Array(30), 10)
    expect(decodeVnetHeader(bytes, 10)).toEqual(h)
    expect(bytes.subarray(0, 10).every((b) => b === 0)).toBe(true)
    expect(decodeVnetHeader(encodeVnetHeader({}))).toEqual({ flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 })
  })

  it('rejects a short array', () => {
    expect(() => decodeVnetHeader(new Uint8Array(12), 3)).toThrow(RangeError)
  })
})

describe.runIf(available)('argument errors', () => {
  it('tapOpen rejects an invalid name with EINVAL', () => {
    let err: NativeError | undefined
    try {
      tapOpen('bad/name', {})
    } catch (e) {
      err = e as NativeError
    }
    expect(err?.code).toBe('EINVAL')
    expect(err?.message).toMatch(/invalid interface name 'bad\/name'/)
  })

  it('packetOpen on a missing interface fails with ENODEV', () => {
    let err: NativeError | undefined
    try {
      packetOpen('mtcpnone0', {})
    } catch (e) {
      err = e as NativeError
    }
    expect(err?.code).toBe('ENODEV')
    expect(err?.message).toMatch(/no network interface named 'mtcpnone0'.*ip link show/)
  })

  it('packetOpen rejects an unknown fanoutMode, and ports mode without a group', () => {
    expect(() => packetOpen('lo', { fanoutGroup: 1, fanoutMode: 'cpu' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/fanoutMode must be 'hash' or 'ports'/) }))
    expect(() => packetOpen('lo', { fanoutGroup: 1, fanoutMode: 7 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(() => packetOpen('lo', { fanoutMode: 'ports' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/needs options.fanoutGroup/) }))
  })

  it('readBurst on a descriptor that is not open fails with EBADF', () => {
    expect(() => readBurst(1_000_000, [new Uint8Array(64)], new Int32Array(1), new Int32Array(1), 1)).toThrow(expect.objectContaining({ code: 'EBADF' }))
  })

  it('unwatch rejects a foreign handle', () => {
    expect(() => unwatch({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
  })
})

// ------------------------------------------------------------------------------------------------
// Live tests: a private namespace with 10.199.x.2 behind a veth pair, nothing addressed outside it.

const tag = randomBytes(3).toString('hex')
const ns = `mtcpn-${tag}`
const vethRoot = `mtv${tag}a`
const vethNs = `mtv${tag}b`
const bridge = `mtb${tag}`
const subnet = randomInt(1, 255)
const peerIp = [10, 199, subnet, 2]
const ourIp = [10, 199, subnet, 1]
// IPv6: a unique local prefix (RFC 4193) inside the namespace only.
const ourIp6 = `fd6d:${subnet.toString(16)}::1`
const peerIp6 = `fd6d:${subnet.toString(16)}::2`
const ourIp6Bytes = Uint8Array.of(0xfd, 0x6d, 0, subnet, ...new Array<number>(11).fill(0), 1)
const peerIp6Bytes = Uint8Array.of(0xfd, 0x6d, 0, subnet, ...new Array<number>(11).fill(0), 2)
const created: Array<() => void> = []
let setupError: unknown

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}
function quiet(fn: () => void): void {
  try {
    fn()
  } catch {
    // best effort (e.g. IPv6 disabled)
  }
}
/** Bring a root-namespace device up without any (IPv6 link-local) address. */
function upWithoutAddress(dev: string): void {
  quiet(() => ip('link', 'set', 'dev', dev, 'addrgenmode', 'none'))
  ip('link', 'set', 'dev', dev, 'up')
}

const live = isRoot && available

beforeAll(() => {
  if (!live) return
  try {
    ip('netns', 'add', ns)
    created.push(() => ip('netns', 'del', ns))
    ip('link', 'add', vethRoot, 'type', 'veth', 'peer', 'name', vethNs)
    created.push(() => quiet(() => ip('link', 'del', vethRoot)))
    ip('link', 'set', vethNs, 'netns', ns)
    quiet(() => ip('-n', ns, 'link', 'set', 'dev', vethNs, 'addrgenmode', 'none'))
    ip('-n', ns, 'addr', 'add', `${peerIp.join('.')}/24`, 'dev', vethNs)
    quiet(() => execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0'], { stdio: 'ignore' }))
    ip('-n', ns, 'addr', 'add', `${peerIp6}/64`, 'dev', vethNs, 'nodad')
    ip('-n', ns, 'link', 'set', vethNs, 'up')
    upWithoutAddress(vethRoot)
  } catch (err) {
    setupError = err
  }
})

afterAll(() => {
  for (const undo of created.reverse()) quiet(undo)
})

function randomMac(): Uint8Array {
  const mac = randomBytes(6)
  mac[0] = 0x02 // locally administered, unicast
  return mac
}

function arpRequest(mac: Uint8Array): Uint8Array {
  const f = new Uint8Array(60)
  f.fill(0xff, 0, 6)
  f.set(mac, 6)
  f.set([0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1], 12)
  f.set(mac, 22)
  f.set(ourIp, 28)
  f.set(peerIp, 38)
  return f
}

function isArpReplyTo(frame: Uint8Array, mac: Uint8Array): boolean {
  if (frame.length < 42) return false
  const eq = (a: Uint8Array, b: ArrayLike<number>) => a.every((v, i) => v === b[i])
  return (
    eq(frame.subarray(0, 6), mac) &&
    frame[12] === 0x08 && frame[13] === 0x06 && frame[20] === 0 && frame[21] === 2 &&
    eq(frame.subarray(28, 32), peerIp) && eq(frame.subarray(32, 38), mac) && eq(frame.subarray(38, 42), ourIp)
  )
}

interface Exchange {
  reply: Uint8Array
  vnet: Uint8Array
}

/**
 * Send an ARP request for the peer through `fd` and wait (watch callback, 4 s bound) for the reply.
 * The request is repeated every 250 ms, as ARP itself would, in case a bridge port is not forwarding yet.
 */
function arpExchange(fd: number, vnetHeader: boolean): Promise<Exchange> {
  const mac = randomMac()
  const request = arpRequest(mac)
  const slots = Array.from({ length: 16 }, () => new Uint8Array(2048))
  const offsets = new Int32Array(16).fill(64)
  const lengths = new Int32Array(16)
  const vnetOut = new Uint8Array(16 * VNET_HEADER_LENGTH)
  const send = () => {
    const sent = writeBurst(fd, [request], new Int32Array([0]), new Int32Array([request.length]), 1, vnetHeader ? encodeVnetHeader({}) : new Uint8Array(0))
    expect(sent).toBe(1)
  }
  return new Promise<Exchange>((resolve, reject) => {
    let handle: ReturnType<typeof watch> | undefined
    const finish = (err: unknown, result?: Exchange) => {
      clearInterval(retry)
      clearTimeout(timer)
      if (handle) unwatch(handle)
      if (err) reject(err)
      else resolve(result!)
    }
    const timer = setTimeout(() => finish(new Error(`no ARP reply from ${peerIp.join('.')} within 4 s`)), 4000)
    const retry = setInterval(() => {
      try {
        send()
      } catch (err) {
        finish(err)
      }
    }, 250)
    handle = watch(fd, (error) => {
      if (error) return finish(error)
      try {
        for (;;) {
          const n = readBurst(fd, slots, offsets, lengths, slots.length, vnetHeader, vnetOut)
          for (let i = 0; i < n; i++) {
            const frame = slots[i]!.subarray(offsets[i]!, offsets[i]! + lengths[i]!)
            if (isArpReplyTo(frame, mac)) return finish(undefined, { reply: frame.slice(), vnet: vnetOut.slice(i * 10, i * 10 + 10) })
          }
          if (n < slots.length) break
        }
      } catch (err) {
        finish(err)
      }
    })
    try {
      send()
    } catch (err) {
      finish(err)
    }
  })
}

describe.runIf(live)('AF_PACKET on the root end of a veth', { timeout: 10_000 }, () => {
  it('exchanges ARP with the namespace', async () => {
    expect(setupError).toBeUndefined()
    const fd = packetOpen(vethRoot, {})
    try {
      const { reply } = await arpExchange(fd, false)
      expect(reply.length).toBeGreaterThanOrEqual(42)
    } finally {
      close(fd)
    }
  })

  it('exchanges ARP with virtio-net headers and a fanout group', async () => {
    expect(setupError).toBeUndefined()
    const fd = packetOpen(vethRoot, { vnetHeader: true, fanoutGroup: randomInt(1, 0xffff) })
    try {
      const { vnet } = await arpExchange(fd, true)
      const h = decodeVnetHeader(vnet)
      expect(h.gsoType).toBe(VnetGsoType.NONE)
      expect(h.flags & ~(VnetFlags.NEEDS_CSUM | VnetFlags.DATA_VALID)).toBe(0)
    } finally {
      close(fd)
    }
  })
})

/** TCP over IPv4 from the peer to us: its source and destination ports, else undefined. */
function tcpPorts(frame: Uint8Array): [number, number] | undefined {
  if (frame.length < 54 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 6) return undefined
  if (!ourIp.every((b, i) => frame[30 + i] === b)) return undefined
  const l4 = 14 + (frame[14]! & 0xf) * 4
  return [(frame[l4]! << 8) | frame[l4 + 1]!, (frame[l4 + 2]! << 8) | frame[l4 + 3]!]
}

/** TCP over IPv6 (no extension headers) from the peer to us: its source and destination ports, else undefined. */
function tcpPorts6(frame: Uint8Array): [number, number] | undefined {
  if (frame.length < 74 || frame[12] !== 0x86 || frame[13] !== 0xdd || frame[20] !== 6) return undefined
  if (!ourIp6Bytes.every((b, i) => frame[38 + i] === b)) return undefined
  return [(frame[54]! << 8) | frame[55]!, (frame[56]! << 8) | frame[57]!]
}

/** The namespace's kernel connects from each `[localPort, port]` pair to `host` (SYNs only: nobody answers). */
function sendSyns(host: string, pairs: [number, number][]): void {
  const script =
    `const net = require('node:net'); const pairs = ${JSON.stringify(pairs)};` +
    `for (const [localPort, port] of pairs) net.connect({ host: '${host}', port, localPort }).on('error', () => {});` +
    // connect() has sent every SYN once the next-tick connects ran.
    `setImmediate(() => process.exit(0));`
  execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] })
}

describe.runIf(live)("AF_PACKET fanout in 'ports' mode", { timeout: 15_000 }, () => {
  it.each([4, 6] as const)('delivers each TCP flow over IPv%i to member portsFanoutHash(sourcePort, destinationPort) % members, in join order', async (family) => {
    expect(setupError).toBeUndefined()
    const group = randomInt(1, 0xffff)
    const members = [packetOpen(vethRoot, { fanoutGroup: group, fanoutMode: 'ports' }), packetOpen(vethRoot, { fanoutGroup: group, fanoutMode: 'ports' })]
    const target = family === 4 ? ourIp.join('.') : ourIp6
    const tcpPortsOf = family === 4 ? tcpPorts : tcpPorts6
    try {
      // The namespace's kernel sends a SYN for each pair; we never answer. A static neighbour spares ARP and ND.
      ip('-n', ns, 'neigh', 'replace', target, 'lladdr', '02:00:00:00:00:01', 'dev', vethNs, 'nud', 'permanent')
      const dstBase = randomInt(20_000, 30_000)
      const srcBase = randomInt(40_000, 50_000) & ~15
      // Six flows for each member, from consecutive source ports.
      const pairs: [number, number][] = []
      const perMember = [0, 0]
      for (let sport = srcBase; pairs.length < 12; sport++) {
        const dport = dstBase + (sport % 3)
        const member = Number(((BigInt(sport ^ dport) * 0x9e3779b1n) & 0xffffffffn) >> 16n) % 2
        if (perMember[member]! < 6) {
          perMember[member]!++
          pairs.push([sport, dport])
        }
      }
      // The program's formula, written out here rather than trusting portsFanoutHash alone.
      const expected = new Map(pairs.map(([s, d]) => [`${s}>${d}`, Number(((BigInt(s ^ d) * 0x9e3779b1n) & 0xffffffffn) >> 16n) % 2]))
      for (const [s, d] of pairs) expect(portsFanoutHash(d, s) % 2).toBe(expected.get(`${s}>${d}`))
      expect(new Set(expected.values()).size).toBe(2) // both members are exercised
      sendSyns(target, pairs)

      const seen = new Map<string, Set<number>>()
      const slots = Array.from({ length: 32 }, () => new Uint8Array(2048))
      const offsets = new Int32Array(32)
      const lengths = new Int32Array(32)
      const vnetOut = new Uint8Array(32 * VNET_HEADER_LENGTH)
      const drain = (member: number): void => {
        for (;;) {
          const n = readBurst(members[member]!, slots, offsets, lengths, slots.length, false, vnetOut)
          for (let i = 0; i < n; i++) {
            const ports = tcpPortsOf(slots[i]!.subarray(offsets[i]!, offsets[i]! + lengths[i]!))
            if (ports === undefined) continue
            const key = `${ports[0]}>${ports[1]}`
            if (!expected.has(key)) continue
            if (!seen.has(key)) seen.set(key, new Set())
            seen.get(key)!.add(member)
          }
          if (n < slots.length) return
        }
      }
      await new Promise<void>((resolve, reject) => {
        const handles = members.map((fd, member) =>
          watch(fd, (error) => {
            if (error) return finish(error)
            drain(member)
            if (seen.size === expected.size) finish()
          }),
        )
        const timer = setTimeout(() => finish(new Error(`saw ${seen.size} of ${expected.size} SYNs within 10 s`)), 10_000)
        function finish(error?: Error): void {
          clearTimeout(timer)
          for (const h of handles) unwatch(h)
          if (error) reject(error)
          else resolve()
        }
        members.forEach((_, member) => drain(member))
        if (seen.size === expected.size) finish()
      })
      for (const [key, member] of expected) expect([key, [...seen.get(key)!]]).toEqual([key, [member]])
    } finally {
      for (const fd of members) close(fd)
    }
  })

  it("refuses a member that asks for another mode than the group's", () => {
    expect(setupError).toBeUndefined()
    const group = randomInt(1, 0xffff)
    const first = packetOpen(vethRoot, { fanoutGroup: group, fanoutMode: 'ports' })
    try {
      expect(() => packetOpen(vethRoot, { fanoutGroup: group, fanoutMode: 'hash' })).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/same mode/) }))
    } finally {
      close(first)
    }
  })
})

/** An independent Internet checksum (RFC 1071) over `parts`, each an even-length byte run or a 16-bit number. */
function checksumOf(...parts: (Uint8Array | number)[]): number {
  let sum = 0
  for (const part of parts) {
    if (typeof part === 'number') sum += part
    else for (let i = 0; i < part.length; i += 2) sum += (part[i]! << 8) | (part[i + 1] ?? 0)
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

describe.runIf(live)('AF_PACKET without virtio-net headers: checksum-partial frames from the kernel are completed', { timeout: 15_000 }, () => {
  it.each([4, 6] as const)('TCP over IPv%i from the namespace (veth checksum offload on) reads with a valid checksum', async (family) => {
    expect(setupError).toBeUndefined()
    const fd = packetOpen(vethRoot, {})
    const target = family === 4 ? ourIp.join('.') : ourIp6
    try {
      ip('-n', ns, 'neigh', 'replace', target, 'lladdr', '02:00:00:00:00:01', 'dev', vethNs, 'nud', 'permanent')
      const sport = randomInt(40_000, 50_000)
      const dport = randomInt(20_000, 30_000)
      const frame = await new Promise<Uint8Array>((resolve, reject) => {
        const slots = Array.from({ length: 32 }, () => new Uint8Array(2048))
        const offsets = new Int32Array(32)
        const lengths = new Int32Array(32)
        const handle = watch(fd, (error) => {
          if (error) return finish(error)
          for (;;) {
            const n = readBurst(fd, slots, offsets, lengths, slots.length)
            for (let i = 0; i < n; i++) {
              const f = slots[i]!.subarray(offsets[i]!, offsets[i]! + lengths[i]!)
              const ports = family === 4 ? tcpPorts(f) : tcpPorts6(f)
              if (ports !== undefined && ports[0] === sport && ports[1] === dport) return finish(undefined, f.slice())
            }
            if (n < slots.length) return
          }
        })
        const timer = setTimeout(() => finish(new Error('no SYN within 10 s')), 10_000)
        function finish(error?: Error, got?: Uint8Array): void {
          clearTimeout(timer)
          unwatch(handle)
          if (error) reject(error)
          else resolve(got!)
        }
        sendSyns(target, [[sport, dport]])
      })
      if (family === 4) {
        const ihl = (frame[14]! & 0x0f) * 4
        const segment = frame.subarray(14 + ihl, 14 + ((frame[16]! << 8) | frame[17]!))
        expect(checksumOf(frame.subarray(26, 34), 6, segment.length, segment)).toBe(0) // RFC 9293 §3.1
      } else {
        const segment = frame.subarray(54, 54 + ((frame[18]! << 8) | frame[19]!))
        expect(frame.subarray(22, 38)).toEqual(peerIp6Bytes)
        expect(checksumOf(frame.subarray(22, 54), 0, segment.length, 6, segment)).toBe(0) // RFC 8200 §8.1
      }
    } finally {
      close(fd)
    }
  })
})

describe.runIf(live)('TAP bridged to the veth', { timeout: 10_000 }, () => {
  beforeAll(() => {
    if (setupError) return
    try {
      ip('link', 'add', bridge, 'type', 'bridge')
      created.push(() => ip('link', 'del', bridge))
      upWithoutAddress(bridge)
      ip('link', 'set', vethRoot, 'master', bridge)
    } catch (err) {
      setupError = err
    }
  })

  /** A non-persistent TAP made by tapOpen, enslaved to the bridge; it vanishes when closed. */
  function openTap(suffix: string, options: Parameters<typeof tapOpen>[1]): number {
    const name = `mtt${tag}${suffix}`
    const fd = tapOpen(name, options)
    created.push(() => quiet(() => ip('link', 'del', name)))
    try {
      quiet(() => ip('link', 'set', 'dev', name, 'addrgenmode', 'none'))
      ip('link', 'set', name, 'master', bridge)
      ip('link', 'set', name, 'up')
    } catch (err) {
      close(fd)
      throw err
    }
    return fd
  }

  it('exchanges ARP with the namespace', async () => {
    expect(setupError).toBeUndefined()
    const fd = openTap('a', {})
    try {
      const { reply } = await arpExchange(fd, false)
      expect(reply.length).toBeGreaterThanOrEqual(42)
    } finally {
      close(fd)
    }
  })

  it('exchanges ARP with virtio-net headers and offloads', async () => {
    expect(setupError).toBeUndefined()
    const fd = openTap('v', { vnetHeader: true, offloads: true })
    try {
      const { vnet } = await arpExchange(fd, true)
      const h = decodeVnetHeader(vnet)
      expect(h.gsoType).toBe(VnetGsoType.NONE)
      expect(h.gsoSize).toBe(0)
      expect(h.flags & ~(VnetFlags.NEEDS_CSUM | VnetFlags.DATA_VALID)).toBe(0)
    } finally {
      close(fd)
    }
  })

  it('refuses to close a watched descriptor', () => {
    const fd = openTap('w', {})
    const handle = watch(fd, () => {})
    try {
      expect(() => close(fd)).toThrow(expect.objectContaining({ code: 'EBUSY' }))
    } finally {
      unwatch(handle)
      unwatch(handle) // idempotent
      close(fd)
    }
  })

  it('rejects offloads without a virtio-net header', () => {
    expect(() => tapOpen(`mtt${tag}x`, { offloads: true })).toThrow(expect.objectContaining({ code: 'EINVAL' }))
  })
})
