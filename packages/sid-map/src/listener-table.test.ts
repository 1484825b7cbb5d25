/** Tests of ListenerTable: exact address before wildcard, duplicates and bad arguments. */
import { describe, expect, it } from 'vitest'
import { INADDR_ANY, ListenerTable } from './listener-table.js'

const code = (value: string) => expect.objectContaining({ code: value })
const hashKey = [1, 2] as const
const LOOPBACK = 0x7f000001 // 127.0.0.1
const A = 0x0a000001 // 10.0.0.1

describe('ListenerTable', () => {
  it('prefers the exact local address, then falls back to the wildcard', () => {
    const listeners = new ListenerTable<string>({ hashKey })
    listeners.insert(INADDR_ANY, 80, 'any:80')
    listeners.insert(LOOPBACK, 80, 'loopback:80')
    expect(listeners.lookup(LOOPBACK, 80)).toBe('loopback:80')
    expect(listeners.lookup(A, 80)).toBe('any:80')
    expect(listeners.lookup(INADDR_ANY, 80)).toBe('any:80')
    expect(listeners.lookup(A, 81)).toBeUndefined()
    expect(listeners.size).toBe(2)
  })

  it('finds a listener bound only to its exact address, and nothing on other addresses', () => {
    const listeners = new ListenerTable<string>({ hashKey })
    listeners.insert(LOOPBACK, 8080, 'loopback:8080')
    expect(listeners.lookup(LOOPBACK, 8080)).toBe('loopback:8080')
    expect(listeners.lookup(A, 8080)).toBeUndefined()
  })

  it('gets, tests and deletes exact bindings without the wildcard fallback', () => {
    const listeners = new ListenerTable<string>({ hashKey })
    listeners.insert(INADDR_ANY, 443, 'any:443')
    expect(listeners.get(A, 443)).toBeUndefined()
    expect(listeners.has(A, 443)).toBe(false)
    expect(listeners.get(INADDR_ANY, 443)).toBe('any:443')
    expect(listeners.delete(A, 443)).toBe(false)
    expect(listeners.delete(INADDR_ANY, 443)).toBe(true)
    expect(listeners.lookup(A, 443)).toBeUndefined()
    expect(listeners.size).toBe(0)
  })

  it('throws EADDRINUSE for the same address and port twice', () => {
    const listeners = new ListenerTable<string>({ hashKey })
    listeners.insert(A, 80, 'first')
    expect(() => listeners.insert(A, 80, 'second')).toThrowError(code('EADDRINUSE'))
    expect(() => listeners.insert(A, 80, 'second')).toThrowError(/already bound to 10\.0\.0\.1:80/)
    expect(listeners.get(A, 80)).toBe('first')
  })

  it('throws ERR_INVALID_ARG naming the argument for a bad address or port', () => {
    const listeners = new ListenerTable<string>({ hashKey })
    expect(() => listeners.insert(A, 70_000, 'x')).toThrowError(/localPort must be a port, an integer in \[0, 65535\], got 70000/)
    expect(() => listeners.insert(-1, 80, 'x')).toThrowError(code('ERR_INVALID_ARG'))
    expect(() => listeners.lookup(A, -1)).toThrowError(/localPort/)
    expect(() => listeners.get(1.5, 80)).toThrowError(/localIp/)
  })

  it('visits every listener with forEach', () => {
    const listeners = new ListenerTable<string>({ hashKey })
    listeners.insert(INADDR_ANY, 80, 'a')
    listeners.insert(0xffffffff, 65535, 'b')
    const seen: Array<[string, number, number]> = []
    listeners.forEach((value, localIp, localPort) => seen.push([value, localIp, localPort]))
    expect(seen.sort()).toEqual([
      ['a', 0, 80],
      ['b', 0xffffffff, 65535],
    ])
  })
})
