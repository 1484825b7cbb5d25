export {
  ARP_LENGTH,
  type ArpOperation,
  type ArpRepr,
  ArpView,
  emitArp,
  parseArp,
} from './wire/arp.js'
export {
  foldChecksum,
  internetChecksum,
  ipv4PseudoHeaderSum,
  onesComplementSum,
  type RxChecksum,
  type TxChecksum,
  updateChecksum,
} from './wire/checksum.js'
export { WireEmitError, type WireEmitErrorCode, WireError, type WireErrorCode, type WireProtocol } from './wire/errors.js'
export {
  BROADCAST_MAC,
  emitEthernet,
  ETHERNET_HEADER_LENGTH,
  ethernetHeaderLength,
  type EthernetRepr,
  EthernetView,
  EtherType,
  formatMac,
  type MacAddress,
  parseEthernet,
  parseMac,
  VLAN_TAG_LENGTH,
  type VlanTag,
} from './wire/ethernet.js'
export {
  emitIcmp,
  ICMP_HEADER_LENGTH,
  type IcmpEchoRepr,
  icmpLength,
  type IcmpOtherRepr,
  type IcmpRepr,
  IcmpType,
  IcmpView,
  parseIcmp,
} from './wire/icmp.js'
export { emitIpv4, IPV4_HEADER_LENGTH, ipv4HeaderProblem, IpProtocol, type Ipv4Address, type Ipv4Repr, Ipv4View, parseIpv4 } from './wire/ipv4.js'
export { formatIpv4Address, parseIpv4Address } from './route/ipv4-address.js'
export { inWindow, seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from './wire/seq.js'
export {
  completeTcpChecksum,
  emitTcp,
  parseTcp,
  TCP_HEADER_LENGTH,
  TcpFlags,
  tcpHeaderLength,
  type TcpRepr,
  TcpView,
} from './wire/tcp.js'
export {
  emitTcpOptions,
  emptyTcpOptionFields,
  MAX_SACK_BLOCKS,
  MAX_WINDOW_SCALE,
  parseTcpOptions,
  readTcpOptions,
  type SackBlock,
  TCP_MAX_OPTIONS_LENGTH,
  tcpOptionFieldsLength,
  type TcpOptionFields,
  TcpOptionKind,
  type TcpOptions,
  tcpOptionsLength,
  type TcpTimestamp,
  writeTcpOptions,
} from './wire/tcp-options.js'
export {
  ARP_CACHE_DEFAULTS,
  ArpCache,
  type ArpCacheOptions,
  type ArpCacheStats,
  type ArpEntryState,
  type ArpInput,
  ArpOpcode,
  type ArpPacketInfo,
  type ResolvedArpCacheOptions,
} from './arp/arp-cache.js'
export { ArpError, type ArpErrorCode } from './arp/arp-error.js'
export { formatMacAddress, isMacAddress, isUnicastMacAddress, macAddressEquals, parseMacAddress } from './arp/mac-address.js'
export {
  type AckMeasurement,
  type AckSample,
  type CongestionControl,
  CongestionControlError,
  type CongestionControlErrorCode,
  type CongestionControlOptions,
  createCongestionControl,
  CUBIC_ALPHA,
  CUBIC_BETA,
  CUBIC_C,
  CubicControl,
  type CubicControlOptions,
  initialWindow,
  type Micros,
  NATIVE_CONGESTION_CONTROL_NAMES,
  type NativeCongestionControlName,
  RenoControl,
} from './congestion/index.js'
export {
  TcpConnection,
  type TcpConnectionStats,
  TcpError,
  type TcpErrorCode,
  TcpEvents,
  type TcpState,
  windowShiftFor,
} from './conn/connection.js'
export { initialSequenceNumber, type IsnSecret, isnOffset } from './conn/initial-sequence.js'
export { ReceiveBuffer } from './conn/receive-buffer.js'
export { RttEstimator, type RttOptions } from './conn/rtt-estimator.js'
export { emptyInboundSegment, type InboundSegment, OutboundSegment } from './conn/segment.js'
export { TcpReadStatus, TcpSegmentReader, tcpSegmentHeaderLength, writeTcpSegment } from './conn/segment-codec.js'
export { SendBuffer } from './conn/send-buffer.js'
export { ECN_MODES, type EcnMode, type EcnStats, IpEcn } from './conn/rules/ecn.js'
export { type LossDetection, resolveTcpConfig, TCP_DEFAULTS, type TcpConfig, TcpConfigError } from './conn/tcp-config.js'
export {
  formatCidr,
  isIpv4Address,
  type Ipv4Cidr,
  isPrefixLength,
  networkAddress,
  parseCidr,
  prefixMask,
} from './route/ipv4-address.js'
export { RouteError, type RouteErrorCode } from './route/route-error.js'
export { type Route, type RouteLookup, type RouteSpec, RouteTable } from './route/route-table.js'
