export { BufferPool, type BufferPoolOptions, type BufferPoolStats, OffloadFlags, PacketBuffer } from './buffer-pool.js'
export { type Clock, type Micros, RealClock, realClock, type Timer, VirtualClock } from './clock.js'
export { DpdkIoError, type DpdkIoErrorCode } from './errors.js'
export { DpdkBufferPool, DpdkPort, type DpdkPortOptions, type DpdkStartedOffloads, openDpdkPort, parseEalArgs } from './dpdk/dpdk-port.js'
export { type DpdkQueueOptions, type DpdkQueues, type DpdkQueueSpec, type DpdkQueuesOptions, openDpdkQueue, startDpdkQueues } from './dpdk/dpdk-queues.js'
export type { GilbertElliott, LinkImpairments, ResolvedImpairments } from './memory/impairments.js'
export {
  createMemoryLink,
  type LinkDirectionName,
  type LinkDirectionStats,
  MemoryLink,
  type MemoryLinkOptions,
  type MemoryOffloadOptions,
  MemoryPort,
} from './memory/memory-link.js'
export { completeChecksums, segmentTcp4, segmentTcp6 } from './offload/software-offload.js'
export { type NativePortOptions, openPacketPort, openTapPort, type PacketPortOptions, portsFanoutHash, type TapPortOptions } from './linux/native-port.js'
export { PcapWriter, type PcapWriterOptions, type PcapWriterStats } from './pcap.js'
export {
  type CaptureDirection,
  type CaptureSink,
  createPortStats,
  DROP_REASONS,
  type DropReason,
  type LinkInfo,
  type OffloadCapabilities,
  type Port,
  type PortStats,
} from './port.js'
export { SeededRandom } from './random.js'
export { RSS_KEY_BYTES, RssHash } from './rss.js'
