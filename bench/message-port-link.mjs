// The alternative to the cluster's shared-memory rings that workers-memory-transport measures: a port
// whose frames cross threads in MessagePort messages, either one transferred ArrayBuffer per burst
// (length-prefixed frames) or one message per frame. Same rxBurst/txBurst/onReadable shape as a Port, so
// the benchmark drives both alike.
import { BufferPool } from '@mtcp/dpdk-io'

export class MessagePortLink {
  #pool = new BufferPool({ count: 4096 })
  #queue = []
  #batch = undefined
  #at = 0
  #readable = undefined

  constructor(port, perFrame = false) {
    this.port = port
    this.perFrame = perFrame
    port.on('message', (message) => {
      this.#queue.push(message)
      if (this.#queue.length === 1) this.#readable?.()
    })
  }

  onReadable(listener) {
    this.#readable = listener
  }

  txBurst(bufs, count) {
    if (this.perFrame) {
      for (let i = 0; i < count; i++) {
        const b = bufs[i]
        this.port.postMessage(b.data.slice(b.offset, b.offset + b.length))
        b.release()
      }
      return count
    }
    let bytes = 0
    for (let i = 0; i < count; i++) bytes += 2 + bufs[i].length
    const batch = new Uint8Array(bytes)
    let at = 0
    for (let i = 0; i < count; i++) {
      const b = bufs[i]
      batch[at] = b.length >>> 8
      batch[at + 1] = b.length & 0xff
      batch.set(b.data.subarray(b.offset, b.offset + b.length), at + 2)
      at += 2 + b.length
      b.release()
    }
    this.port.postMessage(batch, [batch.buffer])
    return count
  }

  rxBurst(bufs, max) {
    let n = 0
    while (n < max) {
      if (this.#batch === undefined) {
        const next = this.#queue.shift()
        if (next === undefined) break
        this.#batch = next
        this.#at = 0
      }
      const batch = this.#batch
      const buffer = this.#pool.alloc()
      if (buffer === undefined) break
      if (this.perFrame) {
        buffer.data.set(batch, buffer.offset)
        buffer.length = batch.byteLength
        this.#batch = undefined
      } else {
        const length = (batch[this.#at] << 8) | batch[this.#at + 1]
        buffer.data.set(batch.subarray(this.#at + 2, this.#at + 2 + length), buffer.offset)
        buffer.length = length
        this.#at += 2 + length
        if (this.#at >= batch.byteLength) this.#batch = undefined
      }
      bufs[n++] = buffer
    }
    return n
  }

  close() {
    this.port.close()
  }
}
