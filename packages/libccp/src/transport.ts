/**
 * What a datapath needs from its channel to the agent: the one CCP transport interface of the mtcp
 * packages (docs/decisions/0012-one-vocabulary.md). `@mtcp/ccp-ipc`'s transports (unix datagram sockets on
 * portus's paths, the in-process channel) implement it, `@mtcp/stack` takes it, and a cluster worker's
 * relay implements it too.
 * @module
 */

/**
 * The datapath's end of a channel to a CCP agent. `send` never throws and never waits: it returns 0 when
 * the message is on its way, else a negative errno value (the agent absent, its queue full, …); the caller
 * may reuse `bytes` as soon as it returns. Each message from the agent reaches the one handler as bytes the
 * handler may keep.
 */
export interface CcpTransport {
  /** Send one CCP message to the agent: 0 when sent, a negative errno value otherwise. */
  send(bytes: Uint8Array): number
  /** Set (or, with `undefined`, clear) the one handler of the agent's messages. */
  onMessage(handler: ((bytes: Uint8Array) => void) | undefined): void
  /** Stop receiving and release the channel. Idempotent. */
  close(): void
}
