/**
 * `@mtcp/ccp-ipc`: transports between a CCP datapath and its agent, as fixed in
 * docs/decisions/0007-ccp-package-interfaces.md. {@link openUnixDatapath} and {@link openUnixAgent} use unix
 * datagram sockets on portus's paths (`/tmp/ccp/<name>`, `/tmp/ccp/portus`) through the optional
 * `@mtcp/unix-dgram-native` addon; {@link InProcessHub} is a channel with the same interface inside one process.
 * Sends never throw and never wait: they return 0 or a negative errno ({@link SendResult}); bad datagrams
 * are counted in each transport's {@link TransportStats} and dropped.
 * This file is the public API: named re-exports only.
 * @packageDocumentation
 */
export { AGENT_TO_DATAPATH_MAX_BYTES, DATAPATH_TO_AGENT_MAX_BYTES, type DatagramProblem } from './datagram-check.js'
export { CcpIpcError, type CcpIpcErrorCode } from './errors.js'
export { isPeerAbsent, SendResult, sendResultName } from './errno.js'
export { InProcessHub, type InProcessDatapathOptions, type InProcessHubOptions } from './in-process-hub.js'
export type { DropCounts, TransportStats } from './stats.js'
export {
  type AgentMessageHandler,
  type AgentTransport,
  type DatapathMessageHandler,
  type DatapathTransport,
  DEFAULT_AGENT_NAME,
  type LogHook,
} from './transport.js'
export {
  DEFAULT_SOCKET_DIR,
  openUnixAgent,
  openUnixDatapath,
  SOCKET_DIR_MODE,
  SOCKET_FILE_MODE,
  type UnixAgentOptions,
  type UnixDatapathOptions,
} from './unix.js'
