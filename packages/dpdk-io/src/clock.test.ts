import { describe, expect, it } from 'vitest'
import { RealClock, VirtualClock } from './clock.js'

describe('VirtualClock', () => {
  it('fires timers in time order, each at its own instant', () => {
    const clock = new VirtualClock()
    const seen: Array<[string, number]> = []
    const late = clock.createTimer(() => seen.push(['late', clock.now()]))
    const early = clock.createTimer(() => seen.push(['early', clock.now()]))
    late.arm(300)
    early.arm(100)
    expect(clock.nextTimerAt()).toBe(100)
    expect(clock.advanceTo(1000)).toBe(2)
    expect(seen).toEqual([['early', 100], ['late', 300]])
    expect(clock.now()).toBe(1000)
  })

  it('fires timers due at the same instant in arming order', () => {
    const clock = new VirtualClock()
    const seen: number[] = []
    const timers = [0, 1, 2, 3].map((i) => clock.createTimer(() => seen.push(i)))
    for (const i of [2, 0, 3, 1]) timers[i]!.arm(50)
    clock.step()
    expect(seen).toEqual([2, 0, 3, 1])
  })

  it('moves a re-armed timer and forgets a cancelled one', () => {
    const clock = new VirtualClock(10)
    let fired = 0
    const timer = clock.createTimer(() => fired++)
    timer.arm(100)
    timer.arm(500)
    expect(timer.at).toBe(500)
    clock.advanceTo(400)
    expect(fired).toBe(0)
    timer.cancel()
    expect(timer.armed).toBe(false)
    expect(clock.step()).toBe(false)
    expect(fired).toBe(0)
  })

  it('runs timers armed by callbacks within the same advance', () => {
    const clock = new VirtualClock()
    const times: number[] = []
    const timer = clock.createTimer(() => {
      times.push(clock.now())
      if (times.length < 5) timer.arm(clock.now() + 10)
    })
    timer.arm(0)
    clock.runUntilIdle()
    expect(times).toEqual([0, 10, 20, 30, 40])
    expect(clock.pendingTimers).toBe(0)
  })

  it('keeps heap order under many random arms and cancels', () => {
    const clock = new VirtualClock()
    const fired: number[] = []
    const timers = Array.from({ length: 200 }, (_, i) => clock.createTimer(() => fired.push(clock.now())))
    let x = 12345
    for (let round = 0; round < 1000; round++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0
      const t = timers[x % 200]!
      if (x & 1) t.cancel()
      else t.arm((x >>> 8) % 10_000)
    }
    clock.runUntilIdle()
    expect(fired.length).toBe(timers.filter((t) => t.armed).length + fired.length)
    expect([...fired].sort((a, b) => a - b)).toEqual(fired)
  })
})

describe('RealClock', () => {
  it('fires a timer no earlier than its time', async () => {
    const clock = new RealClock()
    const armedAt = clock.now()
    const firedAt = await new Promise<number>((resolve) => clock.createTimer(() => resolve(clock.now())).arm(armedAt + 2000))
    expect(firedAt).toBeGreaterThanOrEqual(armedAt + 2000)
  })
})
