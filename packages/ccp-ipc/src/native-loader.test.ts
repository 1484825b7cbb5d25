import { describe, expect, it } from 'vitest'
import { CcpIpcError } from './errors.js'
import { loadUnixDgram } from './native-loader.js'

describe('loadUnixDgram', () => {
  it('loads the installed @mtcp/unix-dgram-native', () => {
    expect(typeof loadUnixDgram().bindUnixDatagram).toBe('function')
  })

  it('throws ERR_UNIX_DGRAM_UNAVAILABLE naming what to do when the package is missing or its addon does not load', () => {
    const missing = Object.assign(new Error("Cannot find module '@mtcp/unix-dgram-native'"), { code: 'MODULE_NOT_FOUND' })
    const unbuilt = new Error('no prebuilt addon for linux-arm64 and none built')
    const loaders = [
      () => {
        throw missing
      },
      () => ({
        bindUnixDatagram: () => {
          throw unbuilt
        },
        probeUnixSocket: () => 0,
        isAvailable: () => false,
      }),
    ]
    for (const [index, load] of loaders.entries()) {
      let thrown: unknown
      try {
        loadUnixDgram(load)
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(CcpIpcError)
      expect(thrown).toMatchObject({ code: 'ERR_UNIX_DGRAM_UNAVAILABLE', cause: index === 0 ? missing : unbuilt })
      const message = (thrown as Error).message
      expect(message).toContain('@mtcp/unix-dgram-native')
      expect(message).toContain('prebuilt for linux-x64')
      expect(message).toContain('npm rebuild')
      expect(message).toContain((index === 0 ? missing : unbuilt).message)
    }
  })

  it('rejects a module without bindUnixDatagram', () => {
    expect(() => loadUnixDgram(() => ({}))).toThrow(expect.objectContaining({ code: 'ERR_UNIX_DGRAM_UNAVAILABLE' }))
  })
})
