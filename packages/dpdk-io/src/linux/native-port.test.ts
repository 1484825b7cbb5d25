import { describe, expect, it } from 'vitest'
import { DpdkIoError } from '../errors.js'
import * as native from '@mtcp/dpdk-io-native'
import { openPacketPort, openTapPort, portsFanoutHash } from './native-port.js'

describe('Linux backends without the addon', () => {
  it('reject with ERR_NATIVE_UNAVAILABLE naming the package to install', async () => {
    const tap = openTapPort({ name: 'mtcp0', nativePackage: '@mtcp/no-such-addon' })
    await expect(tap).rejects.toBeInstanceOf(DpdkIoError)
    await expect(tap).rejects.toMatchObject({ code: 'ERR_NATIVE_UNAVAILABLE', message: expect.stringContaining('npm i @mtcp/no-such-addon') })
    const packet = openPacketPort({ interface: 'eth0', nativePackage: '@mtcp/no-such-addon' })
    await expect(packet).rejects.toMatchObject({ code: 'ERR_NATIVE_UNAVAILABLE' })
  })
})

describe('openPacketPort fanout options', () => {
  it.each([
    ['an unknown mode', { fanoutGroup: 3, fanoutMode: 'cpu' as never }, /fanoutMode must be 'hash' or 'ports', got "cpu"/],
    ['a mode without a group', { fanoutMode: 'ports' as const }, /fanoutMode 'ports' needs fanoutGroup/],
    ['a group out of range', { fanoutGroup: 65_536, fanoutMode: 'ports' as const }, /fanoutGroup/],
    ['a fractional group', { fanoutGroup: 1.5 }, /fanoutGroup must be an integer/],
  ])('rejects %s with ERR_INVALID_CONFIG before loading the addon', async (_name, fanout, message) => {
    const port = openPacketPort({ interface: 'eth0', nativePackage: '@mtcp/no-such-addon', ...fanout })
    await expect(port).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', message: expect.stringMatching(message) })
  })
})

describe('portsFanoutHash', () => {
  it("is symmetric, 16 bits, and the addon's own formula", () => {
    for (let i = 0; i < 2000; i++) {
      const a = Math.floor(Math.random() * 65_536)
      const b = Math.floor(Math.random() * 65_536)
      const h = portsFanoutHash(a, b)
      expect(portsFanoutHash(b, a)).toBe(h)
      expect(h).toBe(native.portsFanoutHash(a, b))
      expect(h >= 0 && h <= 0xffff && Number.isInteger(h)).toBe(true)
      // 32-bit product of the XOR, upper half: computed here with BigInt.
      expect(h).toBe(Number(((BigInt(a ^ b) * 0x9e3779b1n) & 0xffffffffn) >> 16n))
    }
  })

  it('spreads the even source ports Linux clients connect from over 2 members', () => {
    const members = [0, 0]
    for (let port = 32_768; port < 32_768 + 2000; port += 2) members[portsFanoutHash(port, 7) % 2]!++
    expect(Math.min(...members)).toBeGreaterThan(300)
  })
})
