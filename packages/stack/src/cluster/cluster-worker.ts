/**
 * The entry of a cluster's worker threads (built as dist/cluster-worker.js; not imported by users).
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { WorkerInit } from './protocol.js'
import { runWorker } from './worker-runtime.js'

if (parentPort === null) throw new Error('@mtcp/stack/cluster-worker runs only as a worker thread of createCluster')
runWorker(workerData as WorkerInit, parentPort)
