// The load generator of the workers benchmarks, on kernel sockets: `concurrency` loops, each doing small
// transactions back to back (connect, 64-byte request, 64-byte response, close). Run as a script:
//   node tx-clients.mjs <host> <port> <concurrency> <warm-up s> <seconds>
// prints one JSON line: transactions completed inside the measured window, its length, errors, and
// the CPU time this process used in the window (so its own ceiling can be worked out).
import net from 'node:net'

const [host, port, concurrency, warmup, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6])]
const request = Buffer.alloc(64, 0x71)
let counting = false
let stopping = false
let transactions = 0
let allTransactions = 0 // warm-up included, to set against a server's CPU time over the whole run
let errors = 0

function loop() {
  if (stopping) return
  let got = 0
  let done = false
  const socket = net.connect({ host, port, noDelay: true })
  socket.on('connect', () => socket.write(request))
  socket.on('data', (data) => {
    got += data.length
    if (got >= 64 && !done) {
      done = true
      allTransactions++
      if (counting) transactions++
      socket.end()
    }
  })
  socket.on('error', () => {
    if (counting) errors++
  })
  socket.on('close', () => setImmediate(loop))
}

for (let i = 0; i < concurrency; i++) loop()
setTimeout(() => {
  counting = true
  const start = performance.now()
  const cpu = process.cpuUsage()
  setTimeout(() => {
    counting = false
    const elapsed = (performance.now() - start) / 1000
    const used = process.cpuUsage(cpu)
    stopping = true
    console.log(JSON.stringify({ transactions, allTransactions, seconds: elapsed, errors, cpuSeconds: (used.user + used.system) / 1e6 }))
    setTimeout(() => process.exit(0), 200).unref()
  }, seconds * 1000)
}, warmup * 1000)
