/**
 * Settings of one direction of an emulated link, and their validation.
 * @module
 */
import type { Micros } from '../clock.js'
import { checkInteger, checkRange, DpdkIoError } from '../errors.js'

/**
 * Bursty loss after Gilbert and Elliott: a two-state Markov chain (good, bad) stepped once per frame,
 * with its own loss probability in each state.
 */
export interface GilbertElliott {
  /** Probability of moving from good to bad after a frame, in [0, 1]. */
  p: number
  /** Probability of moving from bad to good after a frame, in [0, 1]. */
  r: number
  /** Loss probability in the good state, in [0, 1]. Default 0. */
  lossGood?: number
  /** Loss probability in the bad state, in [0, 1]. Default 1. */
  lossBad?: number
}

/** How one direction of a {@link MemoryLink} treats frames. Every field is optional; the default is a perfect, unlimited link. */
export interface LinkImpairments {
  /** Bottleneck rate in bit/s, in [1, Infinity]. Default Infinity (no serialisation delay). */
  rate?: number
  /** Bytes added to each frame when computing its serialisation time (24 models preamble, FCS and gap). Default 0. */
  overhead?: number
  /** One-way propagation delay in µs. Default 0. */
  delay?: Micros
  /** Uniform jitter in µs, added to the delay within ±jitter; frames stay in order. Default 0. */
  jitter?: Micros
  /** Probability that a frame is lost, in [0, 1]. Default 0. */
  loss?: number
  /** Bursty loss (Gilbert–Elliott). Default none. */
  burstLoss?: GilbertElliott
  /** Probability that a frame is held back by `reorderDelay` so later frames overtake it, in [0, 1]. Default 0. */
  reorder?: number
  /** How long a reordered frame is held back, in µs. Default 1000. */
  reorderDelay?: Micros
  /** Probability that a frame is delivered twice, in [0, 1]. Default 0. */
  duplicate?: number
  /** Probability that one random bit of a frame is flipped, in [0, 1]. Default 0. */
  corrupt?: number
  /** Drop-tail queue limit in packets (frames waiting for or in serialisation). Default 1000, as Linux's txqueuelen. */
  queuePackets?: number
  /** Drop-tail queue limit in bytes. Default Infinity. */
  queueBytes?: number
  /** When the queue is full, refuse frames (txBurst returns fewer) instead of dropping them. Default false. */
  backpressure?: boolean
  /**
   * An ECN-marking queue (RFC 3168 §5, as a RED queue with `ecn` whose thresholds are equal, or DCTCP's
   * marking threshold K): a frame that finds this many packets or more queued is, when it is an IPv4 or
   * IPv6 packet with an ECN-capable codepoint (ECT(0), ECT(1)) in its TOS or Traffic Class, marked CE and sent on; any other frame is
   * dropped (counted in `aqmDrops`). Only with a finite `rate` (no queue builds otherwise). In
   * [1, Infinity]; default Infinity: no marking, drop-tail only.
   */
  ecnMarkPackets?: number
}

/** The settings of one direction after validation, with every default filled in. */
export interface ResolvedImpairments {
  rate: number
  overhead: number
  delay: number
  jitter: number
  loss: number
  burstLoss: Required<GilbertElliott> | undefined
  reorder: number
  reorderDelay: number
  duplicate: number
  corrupt: number
  queuePackets: number
  queueBytes: number
  backpressure: boolean
  ecnMarkPackets: number
}

const MAX_TIME_US = 3_600_000_000

/** @internal Validate `settings`; errors name `prefix.setting` and its accepted range. */
export function resolveImpairments(settings: LinkImpairments, prefix: string): ResolvedImpairments {
  const name = (setting: string): string => `${prefix}.${setting}`
  const probability = (setting: string, value: number | undefined, fallback: number): number =>
    checkRange(name(setting), value ?? fallback, 0, 1)
  let burstLoss: Required<GilbertElliott> | undefined
  if (settings.burstLoss !== undefined) {
    const ge = settings.burstLoss
    if (typeof ge !== 'object' || ge === null) {
      throw new DpdkIoError('ERR_INVALID_CONFIG', `${name('burstLoss')} must be an object { p, r, lossGood?, lossBad? }`)
    }
    burstLoss = {
      p: probability('burstLoss.p', ge.p, Number.NaN),
      r: probability('burstLoss.r', ge.r, Number.NaN),
      lossGood: probability('burstLoss.lossGood', ge.lossGood, 0),
      lossBad: probability('burstLoss.lossBad', ge.lossBad, 1),
    }
  }
  return {
    rate: checkRange(name('rate'), settings.rate ?? Number.POSITIVE_INFINITY, 1, Number.POSITIVE_INFINITY, 'bit/s'),
    overhead: checkInteger(name('overhead'), settings.overhead ?? 0, 0, 4096),
    delay: checkRange(name('delay'), settings.delay ?? 0, 0, MAX_TIME_US, 'µs'),
    jitter: checkRange(name('jitter'), settings.jitter ?? 0, 0, MAX_TIME_US, 'µs'),
    loss: probability('loss', settings.loss, 0),
    burstLoss,
    reorder: probability('reorder', settings.reorder, 0),
    reorderDelay: checkRange(name('reorderDelay'), settings.reorderDelay ?? 1000, 0, MAX_TIME_US, 'µs'),
    duplicate: probability('duplicate', settings.duplicate, 0),
    corrupt: probability('corrupt', settings.corrupt, 0),
    queuePackets: checkInteger(name('queuePackets'), settings.queuePackets ?? 1000, 1, Number.POSITIVE_INFINITY),
    queueBytes: checkInteger(name('queueBytes'), settings.queueBytes ?? Number.POSITIVE_INFINITY, 1, Number.POSITIVE_INFINITY),
    backpressure: Boolean(settings.backpressure ?? false),
    ecnMarkPackets: checkInteger(name('ecnMarkPackets'), settings.ecnMarkPackets ?? Number.POSITIVE_INFINITY, 1, Number.POSITIVE_INFINITY),
  }
}
