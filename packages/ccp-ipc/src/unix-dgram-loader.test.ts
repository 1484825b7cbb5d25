import { describe, expect, it } from 'vitest'
import { CcpIpcError } from './errors.js'
import { loadUnixDgram } from './unix-dgram-loader.js'

describe('loadUnixDgram', () => {
  it('loads the installed unix-dgram', () => {
    expect(typeof loadUnixDgram().createSocket).toBe('function')
  })

  it('throws ERR_UNIX_DGRAM_UNAVAILABLE naming what to install when the module is missing or not built', () => {
    const missing = Object.assign(new Error("Cannot find module 'unix-dgram'"), { code: 'MODULE_NOT_FOUND' })
    const unbuilt = new Error('Could not locate the bindings file. Tried: build/Release/unix_dgram.node')
    for (const failure of [missing, unbuilt]) {
      let thrown: unknown
      try {
        loadUnixDgram(() => {
          throw failure
        })
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(CcpIpcError)
      expect(thrown).toMatchObject({ code: 'ERR_UNIX_DGRAM_UNAVAILABLE', cause: failure })
      const message = (thrown as Error).message
      expect(message).toContain('C++ toolchain')
      expect(message).toContain('python3')
      expect(message).toContain('reinstall')
      expect(message).toContain(failure.message)
    }
  })

  it('rejects a module without createSocket', () => {
    expect(() => loadUnixDgram(() => ({}))).toThrow(expect.objectContaining({ code: 'ERR_UNIX_DGRAM_UNAVAILABLE' }))
  })

  it('refuses off the main thread, where unix-dgram would abort the process', () => {
    expect(() => loadUnixDgram(undefined, false)).toThrow(expect.objectContaining({ code: 'ERR_UNIX_DGRAM_MAIN_THREAD' }))
  })
})
