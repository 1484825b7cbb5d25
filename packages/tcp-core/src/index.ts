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
  emitEthernet,
  ETHERNET_HEADER_LENGTH,
  ethernetHeaderLength,
  type EthernetRepr,
  EthernetView,
  EtherType,
  parseEthernet,
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
export { emitIpv4Fragment, fragmentIpv4, IPV4_MIN_FRAGMENT_MTU, ipv4FragmentPayloadLength } from './wire/ipv4-fragment.js'
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
// The shared vocabulary, owned by @mtcp/primitives (docs/decisions/0012-one-vocabulary.md), re-exported for
// those who compose with tcp-core alone.
export {
  BROADCAST_MAC,
  formatMacAddress,
  isMacAddress,
  isUnicastMacAddress,
  type MacAddress,
  macAddressEquals,
  type Micros,
  parseMacAddress,
} from '@mtcp/primitives'
// IPv6 (issue 20, part 1: wire and host layer; decision 0070).
export { Ipv6WireError, type Ipv6WireErrorCode, type Ipv6WireProtocol } from './wire/ipv6-errors.js'
export {
  formatIpv6Address,
  IPV6_ADDRESS_LENGTH,
  type Ipv6Address,
  ipv6AddressEquals,
  ipv6AddressFromMac,
  ipv6AddressHash,
  ipv6AddressWord,
  ipv6MulticastMac,
  ipv6PrefixMatches,
  isIpv6Address,
  isLinkLocalIpv6,
  isMulticastIpv6,
  isUnspecifiedIpv6,
  parseIpv6Address,
  solicitedNodeAddress,
} from './wire/ipv6-address.js'
export {
  emitIpv6,
  Icmpv6ParameterProblemCode,
  IPV6_HEADER_LENGTH,
  IPV6_MIN_MTU,
  Ipv6ChainStatus,
  type Ipv6ChainStatusValue,
  Ipv6HeaderChain,
  ipv6HeaderProblem,
  Ipv6NextHeader,
  type Ipv6Repr,
  Ipv6View,
  parseIpv6,
  walkIpv6Headers,
} from './wire/ipv6.js'
export { ipv6PseudoHeaderSum, ipv6PseudoHeaderSumOf, ipv6UpperLayerChecksum } from './wire/ipv6-checksum.js'
export {
  emitIcmpv6,
  ICMPV6_ERROR_MAX_INVOKING,
  ICMPV6_HEADER_LENGTH,
  type Icmpv6EchoRepr,
  icmpv6ErrorAllowed,
  type Icmpv6ErrorRepr,
  icmpv6Length,
  type Icmpv6OtherRepr,
  icmpv6Problem,
  Icmpv6RateLimiter,
  type Icmpv6Repr,
  Icmpv6TimeExceededCode,
  Icmpv6Type,
  Icmpv6UnreachableCode,
  Icmpv6View,
  parseIcmpv6,
} from './wire/icmpv6.js'
export {
  emitNdp,
  emitNdpFrame,
  NDP_HOP_LIMIT,
  type NdpFrameAddressing,
  ndpLength,
  type NdpOptions,
  NdpOptionType,
  type NdpPrefixInformation,
  type NdpRepr,
  type NeighborAdvertisementRepr,
  type NeighborSolicitationRepr,
  parseNdp,
  type RouterAdvertisementRepr,
  type RouterSolicitationRepr,
} from './wire/ndp.js'
export { Ipv6AddressMap } from './ndp/ipv6-address-map.js'
export { NdpError, type NdpErrorCode } from './ndp/ndp-error.js'
export {
  type NeighborAdvertisementInfo,
  NeighborCache,
  type NeighborCacheOptions,
  type NeighborCacheStats,
  type NeighborInput,
  type NeighborSolicitationRequest,
  type NeighborState,
  type ResolvedNeighborCacheOptions,
} from './ndp/neighbor-cache.js'
export { type DadOptions, type DadProbe, type DadResult, type DadState, DuplicateAddressDetection } from './ndp/duplicate-address-detection.js'
export {
  type DefaultRouter,
  type OnLinkPrefix,
  type RouterAdvertisementUpdate,
  RouterDiscovery,
  type RouterDiscoveryEvent,
  type RouterDiscoveryOptions,
} from './ndp/router-discovery.js'
export {
  IPV6_REASSEMBLY_DEFAULTS,
  Ipv6Reassembler,
  type Ipv6ReassemblyDropReason,
  type Ipv6ReassemblyOptions,
  type Ipv6ReassemblyResult,
  type Ipv6ReassemblyStats,
  type ResolvedIpv6ReassemblyOptions,
} from './reassembly/ipv6-reassembly.js'
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
export { icmpSequenceAcceptable, loweredPayload, MIN_PATH_MTU, reportedNextHopMtu } from './conn/rules/path-mtu.js'
export { initialSequenceNumber, type IsnSecret, isnOffset, keyedTupleHash } from './conn/initial-sequence.js'
export {
  checkSynCookie,
  COOKIE_TIMESTAMP_BITS,
  cookieSackPermitted,
  cookieTimestamp,
  cookieWindowScale,
  makeSynCookie,
  SYN_COOKIE_MAX_AGE,
  SYN_COOKIE_MSS_TABLE,
  SYN_COOKIE_PERIOD,
  synCookieCounter,
  synCookieMssIndex,
  type SynCookieSecret,
} from './conn/rules/syn-cookies.js'
export { type TimeWaitHandoff, TimeWaitAction, timeWaitVerdict } from './conn/rules/time-wait.js'
export { ReceiveBuffer } from './conn/receive-buffer.js'
export { RingStoragePool, type RingStoragePoolOptions, type RingStoragePoolStats } from './conn/ring.js'
export { RttEstimator, type RttOptions } from './conn/rtt-estimator.js'
export { emptyInboundSegment, type InboundSegment, OutboundSegment } from './conn/segment.js'
export { TcpReadStatus, TcpSegmentReader, tcpSegmentHeaderLength, writeTcpSegment, writeTcpSegmentWithAddressSum } from './conn/segment-codec.js'
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
