/** Tests of the lookup order: exact 4-tuple, listener on the exact address, then the wildcard. */
import { describe, expect, it } from 'vitest'
import { demultiplex } from './demultiplex.js'
import { FlowTable } from './flow-table.js'
import { INADDR_ANY, ListenerTable } from './listener-table.js'

const A = 0x0a000001 // 10.0.0.1, a local address
const B = 0x0a000002 // 10.0.0.2, another local address
const PEER = 0xc0a80001 // 192.168.0.1

describe('demultiplex', () => {
  const flows = new FlowTable<string>({ hashKey: [3, 4] })
  const listeners = new ListenerTable<string>({ hashKey: [5, 6] })
  flows.insert(A, 80, PEER, 50_000, 'connection')
  listeners.insert(A, 80, 'listener on 10.0.0.1:80')
  listeners.insert(INADDR_ANY, 80, 'listener on *:80')

  it('finds the connection by its exact 4-tuple first', () => {
    expect(demultiplex(flows, listeners, A, 80, PEER, 50_000)).toBe('connection')
  })

  it('then a listener on the exact local address', () => {
    expect(demultiplex(flows, listeners, A, 80, PEER, 50_001)).toBe('listener on 10.0.0.1:80')
  })

  it('then a listener on the wildcard address', () => {
    expect(demultiplex(flows, listeners, B, 80, PEER, 50_000)).toBe('listener on *:80')
  })

  it('else nothing', () => {
    expect(demultiplex(flows, listeners, A, 81, PEER, 50_000)).toBeUndefined()
  })

  it('rejects bad arguments with ERR_INVALID_ARG', () => {
    expect(() => demultiplex(flows, listeners, A, 80, PEER, 65_536)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
  })
})
