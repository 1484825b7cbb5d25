// The server of the workers benchmarks, run in every cluster worker: on each connection, read a 64-byte
// request, answer 64 bytes, close when the client does. The mTCP-style calls, so the stack is measured
// rather than Node streams.
import { PollEvents } from '@mtcp/stack'

const REQUEST = 64

export default function smallTransactions(stack) {
  const response = new Uint8Array(64).fill(0x72)
  const buffer = new Uint8Array(2048)
  /** Request bytes read so far, by socket. */
  const received = new Map()
  const listener = stack.socket()
  stack.bind(listener, '0.0.0.0', 7)
  stack.listen(listener, 4096)

  const finish = (fd) => {
    received.delete(fd)
    stack.close(fd)
  }
  const serve = (fd) => {
    // Read while readable: asking only then spares the EAGAIN exceptions of a read-until-EAGAIN loop.
    while (stack.readiness(fd) & PollEvents.IN) {
      let n
      try {
        n = stack.read(fd, buffer)
      } catch (error) {
        if (error.code !== 'EAGAIN') finish(fd)
        return
      }
      if (n === 0) return finish(fd)
      const before = received.get(fd) ?? 0
      received.set(fd, before + n)
      if (before < REQUEST && before + n >= REQUEST) stack.write(fd, response)
    }
  }
  const onSocket = (fd, events) => {
    if (events & (PollEvents.IN | PollEvents.HUP | PollEvents.ERR)) serve(fd)
  }
  stack.watch(listener, () => {
    for (let fd = stack.tryAccept(listener); fd !== -1; fd = stack.tryAccept(listener)) {
      stack.watch(fd, onSocket)
      serve(fd)
    }
  })
  return {}
}
