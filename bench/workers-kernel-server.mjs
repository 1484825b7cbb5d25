// The kernel baseline of workers-vs-kernel: a Node `net` server with `workers` node:cluster workers on
// kernel sockets, doing what bench/workers-app.mjs does (64-byte request, 64-byte response, close when
// the client closes). SCHED_NONE: the workers accept from the one shared listening socket themselves
// (the kernel wakes them), instead of the primary accepting and handing connections over round-robin.
//   node workers-kernel-server.mjs <host> <port> <workers>   prints "ready" once every worker listens
import cluster from 'node:cluster'
import net from 'node:net'

const [host, port, workers] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
cluster.schedulingPolicy = cluster.SCHED_NONE

if (cluster.isPrimary) {
  let listening = 0
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('listening', () => {
      if (++listening === workers) console.log('ready')
    })
  }
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.kill()
    process.exit(0)
  })
} else {
  const response = Buffer.alloc(64, 0x72)
  net
    .createServer({ noDelay: true }, (socket) => {
      let received = 0
      socket.on('data', (data) => {
        const before = received
        received += data.length
        if (before < 64 && received >= 64) socket.write(response)
      })
      socket.on('end', () => socket.end())
      socket.on('error', () => {})
    })
    .listen({ host, port, backlog: 4096 })
}
