// `pnpm demo:link`: a TCP bulk transfer between two @mtcp/stack hosts over the emulated link, on a virtual
// clock, reported per simulated second (goodput, congestion window, RTT, retransmissions).
//   node demo/tcp-over-link.mjs [--rate 100e6] [--delay-ms 20] [--loss 0.001] [--seconds 10] [--cc cubic|reno] [--seed 1] [--pcap out.pcap]
import { createMemoryLink, PcapWriter, VirtualClock } from '@mtcp/dpdk-io'
import { createStack, PollEvents } from '@mtcp/stack'
import { fail, numberFlag, parseFlags } from './flags.mjs'

const values = parseFlags({
  rate: { type: 'string' },
  'delay-ms': { type: 'string' },
  loss: { type: 'string' },
  seconds: { type: 'string' },
  cc: { type: 'string' },
  seed: { type: 'string' },
  pcap: { type: 'string' },
})
const rate = numberFlag(values, 'rate', 100e6, 1e3, 100e9)
const delayMs = numberFlag(values, 'delay-ms', 20, 0, 10_000)
const loss = numberFlag(values, 'loss', 0.001, 0, 1)
const seconds = numberFlag(values, 'seconds', 10, 0.1, 3600)
const seed = numberFlag(values, 'seed', 1, 0, 2 ** 32 - 1)
const cc = values.cc ?? 'cubic'
if (cc !== 'cubic' && cc !== 'reno') fail(`--cc must be one of cubic, reno, got ${cc}`)

const clock = new VirtualClock()
const link = createMemoryLink({ clock, seed, impairments: { rate, delay: delayMs * 1000, loss, queuePackets: 1000 } })
const pcap = values.pcap ? PcapWriter.open(values.pcap, { snapLength: 128 }) : undefined
if (pcap) link.a.capture(pcap)
const buffers = { sendBufferSize: 8 << 20, receiveBufferSize: 8 << 20 }
const sender = createStack({ port: link.a, address: '10.0.0.1/24', congestionControl: cc, tcp: buffers })
const receiver = createStack({ port: link.b, address: '10.0.0.2/24', tcp: buffers })

console.log(`TCP (${cc}) over ${rate / 1e6} Mbit/s, ${delayMs} ms one way, ${loss * 100}% loss, 1000-packet queue, seed ${seed}, virtual clock`)
console.log('   time   goodput Mbit/s   cwnd KB   srtt ms   retransmits')

const listener = receiver.socket()
receiver.bind(listener, '0.0.0.0', 5001)
receiver.listen(listener)
let server = -1
let received = 0
let receivedInSecond = 0
/** Bytes received by the end of the last reported second (the average is over those seconds only). */
let receivedInWindow = 0
const scratch = new Uint8Array(1 << 20)
receiver.watch(listener, () => {
  if (server >= 0) return
  server = receiver.accept(listener)
  receiver.watch(server, () => {
    for (;;) {
      let n
      try {
        n = receiver.read(server, scratch)
      } catch (error) {
        if (error.code === 'EAGAIN') return
        throw error
      }
      if (n === 0) return receiver.close(server)
      received += n
      receivedInSecond += n
    }
  })
})

const client = sender.socket()
const chunk = new Uint8Array(1 << 20).fill(0x90)
let writing = true
sender.watch(client, (_fd, events) => {
  if (!(events & PollEvents.OUT) || !writing) return
  for (;;) {
    try {
      sender.write(client, chunk)
    } catch (error) {
      if (error.code === 'EAGAIN') return
      throw error
    }
  }
})
sender.connect(client, '10.0.0.2', 5001)

const start = clock.now()
let second = 0
const reporter = clock.createTimer(() => {
  second++
  const connection = sender.connectionOf(client)
  const srtt = connection.rtt.smoothedRtt
  console.log(
    `${String(second).padStart(5)} s ${((receivedInSecond * 8) / 1e6).toFixed(3).padStart(16)} ${String(Math.round(connection.congestion.window / 1024)).padStart(9)} ${(srtt === undefined ? '-' : (srtt / 1000).toFixed(1)).padStart(9)} ${String(connection.stats.retransmittedSegments).padStart(13)}`,
  )
  receivedInSecond = 0
  if (second < seconds) {
    reporter.arm(start + (second + 1) * 1e6)
    return
  }
  // The transfer's window ends here; what arrives after the close is the send buffer draining.
  receivedInWindow = received
  writing = false
  sender.close(client)
})
reporter.arm(start + 1e6)

const wall = performance.now()
clock.runUntilIdle(start + (seconds + 120) * 1e6)
const wallSeconds = (performance.now() - wall) / 1000
const average = (receivedInWindow * 8) / seconds / 1e6
console.log(`\nreceived ${(receivedInWindow / 1e6).toFixed(1)} MB in ${seconds} s, ${average.toFixed(1)} Mbit/s on average (${((average * 1e6) / rate * 100).toFixed(1)}% of the link)`)
console.log(`then ${((received - receivedInWindow) / 1e6).toFixed(1)} MB more while the send buffer drained after the close`)
console.log(`simulated ${seconds} s in ${wallSeconds.toFixed(2)} s of wall time; queue drops ${link.stats('aToB').queueDrops}, random losses ${link.stats('aToB').randomLosses}`)
pcap?.close()
sender.stop()
receiver.stop()
link.close()
