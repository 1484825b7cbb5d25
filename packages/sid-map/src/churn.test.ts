/** One million connections through both tables, ending empty: no leaked slots, no stale id reaching a new connection. */
import { describe, expect, it } from 'vitest'
import { FlowTable } from './flow-table.js'
import { type SocketId, SocketTable } from './socket-table.js'

const LOCAL_IP = 0x0a000001 // 10.0.0.1
const LOCAL_PORT = 80

describe('churn', () => {
  it('opens and closes 1,000,000 connections, 10,000 live at a time, and ends with both tables empty', () => {
    const total = 1_000_000
    const window = 10_000
    // Few generation bits, so generations wrap many times during the run (about 61 allocations per slot).
    const sockets = new SocketTable<number>({ maxSockets: 16_384, generationBits: 5 })
    const flows = new FlowTable<SocketId>({ initialCapacity: 0 })
    const live = new Int32Array(window) // ids of the live window, a ring
    // Ring of the ids released by the last 2^17 closes. A slot comes back about every 16,384 allocations
    // (FIFO reuse), so 2^17 closes later it has been reused about 8 times, well short of the 31 reuses that
    // wrap its generation: the old id must be rejected while the slot serves a newer connection.
    const recentlyClosed = new Int32Array(1 << 17)
    let closed = 0
    // Checked once at the end: an expect() per operation would cost more than the tables themselves.
    const failures: string[] = []
    const check = (ok: boolean, what: string, i: number) => {
      if (!ok && failures.length < 10) failures.push(`${what} (connection ${i})`)
    }

    // Connection i comes from a peer address and port derived from i, unique over the whole run.
    const remoteIp = (i: number) => (0xc0000000 + (i >>> 10)) >>> 0
    const remotePort = (i: number) => 1024 + (i & 1023)

    const close = (i: number) => {
      const id = live[i % window]!
      check(flows.get(LOCAL_IP, LOCAL_PORT, remoteIp(i), remotePort(i)) === id, 'flow lookup found another id', i)
      check(sockets.get(id) === i, 'socket id resolved to another connection', i)
      check(flows.delete(LOCAL_IP, LOCAL_PORT, remoteIp(i), remotePort(i)), 'flow delete missed', i)
      check(sockets.release(id), 'socket release refused a live id', i)
      check(!sockets.has(id) && flows.get(LOCAL_IP, LOCAL_PORT, remoteIp(i), remotePort(i)) === undefined, 'still present after close', i)
      const ring = closed & (recentlyClosed.length - 1)
      const stale = recentlyClosed[ring]!
      check(stale === 0 || sockets.get(stale) === undefined, 'a stale id reached a newer connection', i)
      recentlyClosed[ring] = id
      closed++
    }

    for (let i = 0; i < total; i++) {
      if (i >= window) close(i - window)
      const id = sockets.allocate(i)
      check(id !== undefined, 'allocation failed', i)
      flows.insert(LOCAL_IP, LOCAL_PORT, remoteIp(i), remotePort(i), id!)
      live[i % window] = id!
    }
    expect(sockets.size).toBe(window)
    expect(flows.size).toBe(window)
    for (let i = total - window; i < total; i++) close(i)

    expect(failures).toEqual([])
    expect(closed).toBe(total)
    expect(sockets.size).toBe(0)
    expect(sockets.available).toBe(sockets.capacity)
    expect(sockets.stats.allocFailures).toBe(0)
    expect(flows.size).toBe(0)
    expect(flows.probeStats().occupiedSlots).toBe(0)
    // The table grew to hold the window and no further: churn does not inflate it.
    expect(flows.capacity).toBe(32_768)
  })
})
