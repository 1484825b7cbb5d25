/**
 * `@mtcp/recv`: the receiver of mTCP's perf pair on ordinary Node sockets, compatible with recv.py's
 * command line, protocol and output, with robust end-of-transfer detection. Its protocol logic works over
 * any `Duplex`. No stack code, no other `@mtcp` package: it is the independent peer.
 * This file is the public API: named re-exports only.
 * @packageDocumentation
 */
export { formatAddress, formatHostPort, type HostAndPort, splitHostPort } from './address.js'
export { parseRecvArgs, type RecvCommand, USAGE } from './args.js'
export { type CommandLineFlag, parseCommandLine, type ParsedCommandLine } from './command-line.js'
export { type ReceiverClock, type ReceiverTimer, wallClock } from './clock.js'
export { RecvError, type RecvErrorCode } from './errors.js'
export { END_LINE, formatDoneLine, formatIntervalLine, formatPythonFloat, megabitsPerSecond } from './format.js'
export { CHUNK_LAST_BYTE, CHUNK_SIZE, DATA_BYTE, END_MARKER, EndDetector, type EndReason, perfChunk, REPLY } from './protocol.js'
export { type ConnectionSource, type IntervalReport, receive, type ReceiveOptions, type ReceiveResult, serve, type ServeOptions } from './receive.js'
export { connect, type ConnectOptions, listen, type ListenOptions } from './tcp.js'
