import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createDoorbellBuffer, createRingBuffer, Doorbell, largestFrame, RingConsumer, RingProducer } from './shared-ring.js'

function ring(capacity = 4096) {
  const buffer = createRingBuffer(capacity)
  const doorbell = new Doorbell(createDoorbellBuffer())
  return { producer: new RingProducer(buffer, doorbell), consumer: new RingConsumer(buffer), doorbell }
}

function frame(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed * 131 + i * 7) & 0xff)
}

describe('frame ring', () => {
  it('hands frames over intact and in order, across many wraps, with their flags', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 700 }), fc.integer({ min: 1, max: 6 })), { minLength: 1, maxLength: 200 }), (plan) => {
        const { producer, consumer } = ring(4096)
        const into = new Uint8Array(2048)
        let seed = 0
        let expected = 0
        for (const [length, batch] of plan) {
          // Write a batch (as far as it fits), publish, then read it all back.
          const written: Uint8Array[] = []
          for (let i = 0; i < batch; i++) {
            const data = frame(length, seed)
            if (!producer.write(data, 0, data.byteLength, seed)) break
            written.push(data)
            seed++
          }
          producer.publish()
          for (const data of written) {
            expect(consumer.peekLength()).toBe(data.byteLength)
            const n = consumer.read(into, 5)
            expect(n).toBe(data.byteLength)
            expect(Buffer.compare(into.subarray(5, 5 + n), data)).toBe(0)
            expect(consumer.flags).toBe(expected++)
          }
          expect(consumer.read(into, 0)).toBe(-1)
          consumer.release()
        }
      }),
    )
  })

  it('refuses a frame when full, and takes it once the consumer releases room', () => {
    const { producer, consumer } = ring(4096)
    const data = frame(1000, 1)
    let count = 0
    while (producer.write(data, 0, data.byteLength, 0)) count++
    expect(count).toBe(4) // 4 × (8 + 1000) of 4096 bytes
    producer.publish()
    const into = new Uint8Array(1000)
    expect(consumer.read(into, 0)).toBe(1000)
    expect(producer.write(data, 0, data.byteLength, 0)).toBe(false) // read but not yet released
    consumer.release()
    expect(producer.write(data, 0, data.byteLength, 0)).toBe(true)
  })

  it('publishes nothing until publish()', () => {
    const { producer, consumer } = ring()
    const data = frame(60, 2)
    producer.write(data, 0, 60, 0)
    expect(consumer.isEmpty()).toBe(true)
    producer.publish()
    expect(consumer.isEmpty()).toBe(false)
  })

  it('refuses a frame larger than half the ring; skip() steps over one', () => {
    const { producer, consumer } = ring(8192)
    expect(largestFrame(8192)).toBe(4088)
    const big = new Uint8Array(4089)
    expect(producer.write(big, 0, big.byteLength, 0)).toBe(false)
    producer.write(frame(100, 1), 0, 100, 1)
    producer.write(frame(50, 2), 0, 50, 2)
    producer.publish()
    expect(consumer.skip()).toBe(true)
    expect(consumer.read(new Uint8Array(100), 0)).toBe(50)
    expect(consumer.skip()).toBe(false)
  })

  it('rejects a capacity that is not a power of two of at least 4096 bytes', () => {
    expect(() => createRingBuffer(5000)).toThrow(RangeError)
    expect(() => createRingBuffer(2048)).toThrow(RangeError)
  })
})

describe('Doorbell', () => {
  it('wakes a sleeping consumer when the producer publishes', async () => {
    const { producer, consumer, doorbell } = ring()
    const woken = new Promise<void>((resolve) => doorbell.sleep(() => consumer.isEmpty(), resolve))
    producer.write(frame(10, 0), 0, 10, 0)
    producer.publish()
    await woken
    expect(consumer.isEmpty()).toBe(false)
  })

  it('wakes at once when a frame is already there', async () => {
    const { producer, consumer, doorbell } = ring()
    producer.write(frame(10, 0), 0, 10, 0)
    producer.publish()
    await new Promise<void>((resolve) => doorbell.sleep(() => consumer.isEmpty(), resolve))
  })

  it('after close, a pending sleep never calls back', async () => {
    const { producer, consumer, doorbell } = ring()
    let called = false
    doorbell.sleep(
      () => consumer.isEmpty(),
      () => (called = true),
    )
    doorbell.close()
    producer.write(frame(10, 0), 0, 10, 0)
    producer.publish()
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    expect(called).toBe(false)
  })

  it('wakes a producer waiting for room when the consumer releases', async () => {
    const { producer, consumer } = ring(4096)
    const data = frame(1000, 1)
    while (producer.write(data, 0, data.byteLength, 0));
    producer.publish()
    const room = new Promise<void>((resolve) => producer.waitForSpace(resolve))
    const into = new Uint8Array(1000)
    while (consumer.read(into, 0) >= 0);
    consumer.release()
    await room
    expect(producer.write(data, 0, data.byteLength, 0)).toBe(true)
  })
})
