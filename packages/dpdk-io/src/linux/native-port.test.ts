import { describe, expect, it } from 'vitest'
import { DpdkIoError } from '../errors.js'
import { openPacketPort, openTapPort } from './native-port.js'

describe('Linux backends without the addon', () => {
  it('reject with ERR_NATIVE_UNAVAILABLE naming the package to install', async () => {
    const tap = openTapPort({ name: 'mtcp0', nativePackage: '@mtcp/no-such-addon' })
    await expect(tap).rejects.toBeInstanceOf(DpdkIoError)
    await expect(tap).rejects.toMatchObject({ code: 'ERR_NATIVE_UNAVAILABLE', message: expect.stringContaining('npm i @mtcp/no-such-addon') })
    const packet = openPacketPort({ interface: 'eth0', nativePackage: '@mtcp/no-such-addon' })
    await expect(packet).rejects.toMatchObject({ code: 'ERR_NATIVE_UNAVAILABLE' })
  })
})
