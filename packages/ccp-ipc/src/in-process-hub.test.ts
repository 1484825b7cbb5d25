import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CcpIpcError } from './errors.js'
import { isPeerAbsent, SendResult } from './errno.js'
import { InProcessHub } from './in-process-hub.js'
import { agentReceives, datagram, datapathReceives, ready, sidOf } from './test-support.js'

describe('InProcessHub, asynchronous (the default)', () => {
  it('delivers after send returns, in send order, both ways, with the datapath name as from', async () => {
    const hub = new InProcessHub()
    expect(hub.synchronous).toBe(false)
    const agent = hub.agent()
    const datapath = hub.datapath('mtcp-0')
    expect(agent.address).toBe('portus')
    expect(datapath.address).toBe('mtcp-0')

    const atAgent = agentReceives(agent, 5)
    for (let sid = 1; sid <= 5; sid++) expect(datapath.send(datagram(1, 16, sid))).toBe(0)
    expect(agent.stats.received).toBe(0) // nothing delivered inside send
    const got = await atAgent
    expect(got.map(({ bytes, from }) => [sidOf(bytes), from])).toEqual([1, 2, 3, 4, 5].map((sid) => [sid, 'mtcp-0']))

    const atDatapath = datapathReceives(datapath, 2)
    expect(agent.sendTo('mtcp-0', datagram(4, 16, 8))).toBe(0)
    expect(agent.sendTo('mtcp-0', datagram(3, 25, 9))).toBe(0)
    expect((await atDatapath).map(sidOf)).toEqual([8, 9])
    expect(datapath.stats).toMatchObject({ sent: 5, received: 2, sendFailed: 0 })
    expect(agent.stats).toMatchObject({ sent: 2, received: 5, sendFailed: 0 })
  })

  it('keeps one order across datapaths and across answers sent from handlers', async () => {
    const hub = new InProcessHub()
    const agent = hub.agent()
    const a = hub.datapath('a')
    const b = hub.datapath('b')
    const log: string[] = []
    agent.onMessage((bytes, from) => {
      log.push(`agent ${from}:${sidOf(bytes)}`)
      agent.sendTo(from, bytes) // echo
    })
    const done = new Promise<void>((resolve) => {
      let echoes = 0
      const onEcho = (name: string) => (bytes: Uint8Array) => {
        log.push(`${name} echo:${sidOf(bytes)}`)
        if (++echoes === 4) resolve()
      }
      a.onMessage(onEcho('a'))
      b.onMessage(onEcho('b'))
    })
    a.send(datagram(5, 12, 0))
    b.send(datagram(1, 16, 1))
    a.send(datagram(1, 16, 2))
    b.send(datagram(1, 16, 3))
    await done
    expect(log).toEqual([
      'agent a:0',
      'agent b:1',
      'agent a:2',
      'agent b:3',
      'a echo:0',
      'b echo:1',
      'a echo:2',
      'b echo:3',
    ])
  })

  it('copies on send: the sender may reuse its buffer at once', async () => {
    const hub = new InProcessHub()
    const agent = hub.agent()
    const datapath = hub.datapath('mtcp-0')
    const atAgent = agentReceives(agent, 2)
    const scratch = datagram(1, 16, 1)
    datapath.send(scratch)
    new DataView(scratch.buffer).setUint32(4, 2, true)
    datapath.send(scratch)
    new DataView(scratch.buffer).setUint32(4, 3, true)
    expect((await atAgent).map(({ bytes }) => sidOf(bytes))).toEqual([1, 2])
  })
})

describe('InProcessHub, synchronous', () => {
  it('delivers inside send', () => {
    const hub = new InProcessHub({ synchronous: true })
    const agent = hub.agent()
    const datapath = hub.datapath('mtcp-0')
    const seen: number[] = []
    agent.onMessage((bytes) => seen.push(sidOf(bytes)))
    datapath.send(datagram(1, 16, 4))
    expect(seen).toEqual([4])
    datapath.send(datagram(1, 16, 5))
    expect(seen).toEqual([4, 5])
  })

  it('queues a message sent while delivering, and delivers it after the current one, before the outer send returns', () => {
    const hub = new InProcessHub({ synchronous: true })
    const agent = hub.agent()
    const datapath = hub.datapath('mtcp-0')
    const log: string[] = []
    let depth = 0
    agent.onMessage((bytes, from) => {
      depth++
      log.push(`agent in ${sidOf(bytes)} depth ${depth}`)
      // Two answers from inside the handler: neither may run the datapath's handler before this one returns.
      expect(agent.sendTo(from, datagram(3, 12, sidOf(bytes) * 10 + 1))).toBe(0)
      expect(agent.sendTo(from, datagram(3, 12, sidOf(bytes) * 10 + 2))).toBe(0)
      log.push(`agent out ${sidOf(bytes)}`)
      depth--
    })
    datapath.onMessage((bytes) => {
      depth++
      log.push(`datapath in ${sidOf(bytes)} depth ${depth}`)
      // The datapath answers the first update once: a third level of sends.
      if (sidOf(bytes) === 11) datapath.send(datagram(1, 16, 2))
      log.push(`datapath out ${sidOf(bytes)}`)
      depth--
    })
    datapath.send(datagram(1, 16, 1))
    log.push('send returned')
    expect(log).toEqual([
      'agent in 1 depth 1',
      'agent out 1',
      'datapath in 11 depth 1',
      'datapath out 11',
      'datapath in 12 depth 1',
      'datapath out 12',
      'agent in 2 depth 1',
      'agent out 2',
      'datapath in 21 depth 1',
      'datapath out 21',
      'datapath in 22 depth 1',
      'datapath out 22',
      'send returned',
    ])
  })

  it('keeps delivering after a handler throws, and never throws from send', () => {
    const errors: unknown[] = []
    const hub = new InProcessHub({ synchronous: true, onHandlerError: (error) => errors.push(error) })
    const agent = hub.agent()
    const datapath = hub.datapath('mtcp-0')
    const seen: number[] = []
    agent.onMessage((bytes, from) => {
      seen.push(sidOf(bytes))
      agent.sendTo(from, datagram(3, 12, 99))
      if (sidOf(bytes) === 1) throw new Error('handler bug')
    })
    let updates = 0
    datapath.onMessage(() => updates++)
    expect(datapath.send(datagram(1, 16, 1))).toBe(0)
    expect(datapath.send(datagram(1, 16, 2))).toBe(0)
    expect(seen).toEqual([1, 2])
    expect(updates).toBe(2)
    expect(errors).toEqual([new Error('handler bug')])
  })
})

describe('InProcessHub: absence, restart, names', () => {
  it.each([false, true])('returns ENOENT without an agent, and reaches a restarted agent (synchronous: %s)', async (synchronous) => {
    const hub = new InProcessHub({ synchronous })
    const datapath = hub.datapath('mtcp-0')
    expect(datapath.send(ready(1))).toBe(SendResult.ENOENT)
    expect(isPeerAbsent(SendResult.ENOENT)).toBe(true)

    const first = hub.agent()
    let atAgent = agentReceives(first)
    expect(datapath.send(ready(2))).toBe(0)
    await atAgent
    first.close()
    first.close() // idempotent
    expect(datapath.send(ready(3))).toBe(SendResult.ENOENT)
    expect(first.sendTo('mtcp-0', ready(0))).toBe(SendResult.EBADF)

    const second = hub.agent()
    atAgent = agentReceives(second)
    expect(datapath.send(ready(4))).toBe(0)
    const [got] = await atAgent
    expect(new DataView(got!.bytes.buffer).getUint32(8, true)).toBe(4)
    expect(datapath.stats).toMatchObject({ sent: 2, sendFailed: 2 })
    expect(first.stats.received).toBe(1)
  })

  it('drops a message queued to an agent that closes before delivery', async () => {
    const hub = new InProcessHub()
    const first = hub.agent()
    let firstSaw = 0
    first.onMessage(() => firstSaw++)
    const datapath = hub.datapath('mtcp-0')
    expect(datapath.send(ready(1))).toBe(0)
    first.close()
    const second = hub.agent()
    const atSecond = agentReceives(second)
    expect(datapath.send(ready(2))).toBe(0)
    const [got] = await atSecond
    expect(new DataView(got!.bytes.buffer).getUint32(8, true)).toBe(2)
    expect(firstSaw).toBe(0)
    expect(second.stats.received).toBe(1)
  })

  it('refuses a name that is open, with EADDRINUSE, and frees it on close', () => {
    const hub = new InProcessHub()
    const datapath = hub.datapath('mtcp-0')
    expect(() => hub.datapath('mtcp-0')).toThrow(CcpIpcError)
    expect(() => hub.datapath('mtcp-0')).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }))
    hub.agent()
    expect(() => hub.agent('portus')).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }))
    datapath.close()
    expect(hub.datapath('mtcp-0').address).toBe('mtcp-0')
  })

  it('sends to the agent named in the options', async () => {
    const hub = new InProcessHub()
    const other = hub.agent('other-agent')
    hub.agent() // a portus that must not see it
    const datapath = hub.datapath('mtcp-0', { agent: 'other-agent' })
    const atOther = agentReceives(other)
    datapath.send(ready(1))
    expect((await atOther)[0]!.from).toBe('mtcp-0')
  })

  it('rejects bad names and options with ERR_INVALID_ARG', () => {
    const hub = new InProcessHub()
    expect(() => hub.datapath('')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(() => hub.agent('')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(() => new InProcessHub({ synchronous: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
  })
})

describe('InProcessHub: checks and stats', () => {
  it('applies the same size and header checks as the unix transport', () => {
    const hub = new InProcessHub({ synchronous: true })
    const agent = hub.agent()
    const datapath = hub.datapath('mtcp-0')
    let delivered = 0
    agent.onMessage(() => delivered++)
    datapath.onMessage(() => delivered++)
    expect(datapath.send(datagram(1, 1025))).toBe(SendResult.EMSGSIZE)
    expect(datapath.send(datagram(1, 1024))).toBe(0)
    expect(datapath.send(datagram(7, 16))).toBe(SendResult.EINVAL)
    expect(datapath.send(datagram(1, 16).subarray(0, 10))).toBe(SendResult.EINVAL)
    expect(agent.sendTo('mtcp-0', datagram(2, 32679))).toBe(SendResult.EMSGSIZE)
    expect(agent.sendTo('mtcp-0', datagram(2, 32678))).toBe(0)
    expect(agent.sendTo('', datagram(2, 20))).toBe(SendResult.EINVAL)
    expect(delivered).toBe(2)
    expect(datapath.stats).toMatchObject({ sent: 1, received: 1, dropped: { oversized: 1, malformed: 2 } })
    expect(agent.stats).toMatchObject({ sent: 1, received: 1, sendFailed: 1, dropped: { oversized: 1 } })
  })

  it('drops messages between agents that exceed what an agent accepts', () => {
    const hub = new InProcessHub({ synchronous: true })
    const a = hub.agent('a')
    const b = hub.agent('b')
    b.onMessage(() => {
      throw new Error('must not be delivered')
    })
    expect(a.sendTo('b', datagram(2, 2000))).toBe(0) // within the agent → datapath limit
    expect(b.stats.dropped.oversized).toBe(1)
    expect(b.stats.received).toBe(0)
  })

  it('counts every send exactly once, whatever the mix of sends (property)', () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), size: fc.integer({ min: 0, max: 1100 }), type: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('toggle-agent' as const) }),
      fc.record({ kind: fc.constant('garble' as const), size: fc.integer({ min: 8, max: 64 }) }),
    )
    fc.assert(
      fc.property(fc.boolean(), fc.array(operation, { maxLength: 60 }), (synchronous, operations) => {
        const hub = new InProcessHub({ synchronous })
        const datapath = hub.datapath('mtcp-0')
        let agent: ReturnType<InProcessHub['agent']> | undefined = hub.agent()
        let sends = 0
        for (const op of operations) {
          if (op.kind === 'toggle-agent') {
            if (agent === undefined) agent = hub.agent()
            else {
              agent.close()
              agent = undefined
            }
            continue
          }
          sends++
          const bytes = op.kind === 'send' ? datagram(op.type, op.size) : datagram(1, op.size + 1).subarray(0, op.size)
          const result = datapath.send(bytes)
          expect(result === 0 || result < 0).toBe(true)
        }
        const { sent, sendFailed, dropped } = datapath.stats
        expect(sent + sendFailed + dropped.oversized + dropped.malformed + dropped.congested).toBe(sends)
      }),
    )
  })
})
