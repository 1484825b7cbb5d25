// The worker side of workers-memory-transport: echo every frame back, through the cluster's
// shared-memory queue port or through a MessagePortLink.
import { parentPort, workerData } from 'node:worker_threads'
import { openQueuePort } from '@mtcp/stack/cluster'
import { MessagePortLink } from './message-port-link.mjs'

const port = workerData.mode === 'ring' ? openQueuePort(workerData.endpoint) : new MessagePortLink(workerData.channel, workerData.mode === 'per-frame')
const burst = []
port.onReadable(() => {
  for (let n = port.rxBurst(burst, 32); n > 0; n = port.rxBurst(burst, 32)) {
    let sent = 0
    while (sent < n) sent += port.txBurst(sent === 0 ? burst : burst.slice(sent, n), n - sent)
  }
})
parentPort.postMessage('ready')
