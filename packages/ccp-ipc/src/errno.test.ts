import { constants } from 'node:os'
import { describe, expect, it } from 'vitest'
import { isCongestion, isPeerAbsent, SendResult, sendResultName } from './errno.js'

describe('send results', () => {
  it('are this platform’s errno values, negated', () => {
    expect(SendResult.OK).toBe(0)
    expect(SendResult.ENOENT).toBe(-constants.errno.ENOENT)
    expect(SendResult.ECONNREFUSED).toBe(-constants.errno.ECONNREFUSED)
    expect(SendResult.EAGAIN).toBe(-constants.errno.EAGAIN)
    expect(SendResult.EMSGSIZE).toBe(-constants.errno.EMSGSIZE)
  })

  it('have names for logs', () => {
    expect(sendResultName(0)).toBe('OK')
    expect(sendResultName(SendResult.ENOENT)).toBe('ENOENT')
    expect(sendResultName(SendResult.EAGAIN)).toBe('EAGAIN')
    expect(sendResultName(-constants.errno.EACCES)).toBe('EACCES')
    expect(sendResultName(-99999)).toBe('E99999')
  })

  it('tell an absent peer from a busy one', () => {
    expect(isPeerAbsent(SendResult.ENOENT)).toBe(true)
    expect(isPeerAbsent(SendResult.ECONNREFUSED)).toBe(true)
    expect(isPeerAbsent(SendResult.EAGAIN)).toBe(false)
    expect(isPeerAbsent(0)).toBe(false)
    expect(isCongestion(SendResult.EAGAIN)).toBe(true)
    expect(isCongestion(-constants.errno.ENOBUFS)).toBe(true)
    expect(isCongestion(SendResult.ENOENT)).toBe(false)
  })
})
