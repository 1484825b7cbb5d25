/**
 * The driver loop (decision 0011): one iteration receives bursts, parses each frame and finds its flow
 * (demultiplexer.ts), feeds the connection (events are only collected), runs timers, dispatches every
 * connection with work and transmits one burst; then it delivers the collected events to the
 * applications, whose callbacks run there and nowhere else (no user code in the middle of a burst);
 * last, what the CCP agent decided during the iteration is applied.
 *
 * Only the driver (with the hosts it polls) reads the clock and arms timers; `@mtcp/tcp-core` gets `now`
 * as an argument.
 * @internal
 * @module
 */
import type { Micros, PacketBuffer, Timer } from '@mtcp/dpdk-io'
import { type OutboundSegment, TcpEvents, TcpFlags } from '@mtcp/tcp-core'
import { CcpControl } from './ccp.js'
import { Demultiplexer } from './demultiplexer.js'
import { ReusedList } from './reused-list.js'
import { PollEvents, readinessOf, type SocketRecord } from './socket-record.js'
import type { StackState } from './stack-state.js'

/** Receive bursts per loop iteration before other work gets a turn. */
const RX_BURSTS_PER_POLL = 8
/**
 * Frames queued for the port above which no further connection is dispatched in this iteration (a
 * connection's own burst stays below the transmit queue's hard limit, TX_BACKLOG_LIMIT).
 */
const TX_SOFT_LIMIT = 4096
/**
 * The share of the buffer pool (1/2^n) kept free for other connections, ARP, ICMP and, on a port whose
 * receive and transmit share the pool (DPDK), reception: below it no further connection is dispatched.
 */
const POOL_RESERVE_SHIFT = 3
/**
 * How long a dispatch held back for want of buffers waits before it tries again (µs). Buffers come back
 * when the port or the link is done with them, which no event reports, so the driver looks again.
 */
const POOL_RETRY_US = 100
/** Dispatch rounds after the applications' callbacks within one loop iteration. */
const APPLICATION_ROUNDS = 2
/** A bit of SocketRecord.pendingEvents above every PollEvents bit: the record is in the notify queue. */
const NOTIFY_QUEUED = 1 << 30

/** @internal The driver loop of one stack (see the module). */
export class Driver {
  readonly #state: StackState
  /** Receive-side flow lookup for both families (demultiplexer.ts). */
  readonly #demux: Demultiplexer
  readonly #wake: Timer
  readonly #rx: PacketBuffer[] = []
  #dirty = new ReusedList<number>()
  /** The other half of the dirty list, swapped in while one is dispatched (no array per iteration). */
  #dirtySpare = new ReusedList<number>()
  /** Sockets with readiness to deliver once the iteration is over (see {@link notify}). */
  readonly #notifyQueue = new ReusedList<SocketRecord>()
  /** The connection being dispatched, for {@link #emitSegment} (one callback for every connection). */
  #emitting: SocketRecord | undefined = undefined
  /** Connections wait in the dirty list for buffers to come back to the pool (see POOL_RESERVE_SHIFT). */
  #poolStarved = false
  #emitNow: Micros = 0
  readonly #emitSegment = (segment: OutboundSegment): void => {
    const record = this.#emitting!
    const stats = this.#stats
    if (segment.retransmission) stats.tcp.retransmittedSegments++
    if (segment.flags & TcpFlags.RST) stats.tx.resets++
    if (record.family === 6) this.#host6!.sendConnectionSegment(this.#emitNow, record, segment)
    else this.#host.sendConnectionSegment(this.#emitNow, record, segment)
  }
  /** The state's stats and hosts, held here too for the emit callback (the same objects). */
  readonly #stats: StackState['stats']
  readonly #host: StackState['host']
  readonly #host6: StackState['host6']

  constructor(state: StackState) {
    this.#state = state
    this.#stats = state.stats
    this.#host = state.host
    this.#host6 = state.host6
    this.#demux = new Demultiplexer(state, this)
    const port = state.port
    this.#wake = state.clock.createTimer(() => this.poll())
    port.busyPoll = state.options.busyPoll
    port.onReadable(() => this.poll())
    port.onWritable(() => this.poll())
    if (state.options.busyPoll) this.scheduleSoon()
    // The IPv6 host's start-up timers (DAD probes, router solicitations) need a wake-up before any traffic.
    else if (this.#host6?.pollAt() !== undefined) this.#armWake(state.clock.now())
  }

  /**
   * Run one iteration of the loop: receive bursts, process, dispatch every connection with work,
   * transmit, and arm the next wake-up.
   */
  poll(): void {
    const state = this.#state
    if (state.closed || state.polling) return
    state.wakeRequested = false
    state.txQueue.portBusy = false
    const now = state.clock.now()
    state.ccp?.hold()
    this.#phase(now, true)
    // What the applications wrote or read when told goes out in the same iteration: one more dispatch
    // and transmit phase, and the events it raises (a bounded number of rounds; the rest waits for the
    // next iteration, which scheduleSoon asks for).
    for (let round = 0; round < APPLICATION_ROUNDS && this.#dirty.length > 0 && !state.closed; round++) this.#phase(now, false)
    // Last, what the CCP agent decided during the iteration (decision 0011's order).
    state.ccp?.applyHeld()
    // Connections held back for buffers try again after POOL_RETRY_US (#armWake), not at once: at once
    // would spin on a virtual clock, where the link gives the buffers back only when time moves.
    if (state.wakeRequested || (this.#dirty.length > 0 && !this.#poolStarved)) this.scheduleSoon()
  }

  /**
   * One pass of the driver: receive bursts, parse, find the flow, feed the connection (events are only
   * collected), run timers, dispatch every connection with work, transmit; then deliver the events to the
   * applications, whose callbacks run here and nowhere else.
   */
  #phase(now: Micros, receive: boolean): void {
    const state = this.#state
    state.polling = true
    try {
      if (receive) {
        this.#receive(now)
        this.#runTimers(now)
        state.host.poll(now)
        state.host6?.poll(now)
      }
      this.#dispatchDirty(now)
      state.flush()
      this.#armWake(now)
    } finally {
      state.polling = false
    }
    this.#deliverEvents()
  }

  #receive(now: Micros): void {
    const state = this.#state
    const rx = this.#rx
    const port = state.port
    const demux = this.#demux
    const burst = state.options.burstSize
    for (let round = 0; round < RX_BURSTS_PER_POLL; round++) {
      const n = port.rxBurst(rx, burst)
      for (let i = 0; i < n; i++) {
        const buffer = rx[i]!
        try {
          demux.input(now, buffer)
        } catch (error) {
          // Only a hook (a cluster's, arpLearned) can throw here: the frame is lost, the burst goes on.
          state.reportCallbackError(error)
        } finally {
          buffer.release() // whatever happens, the buffer goes back to the pool
        }
      }
      if (n < burst) return
    }
    state.wakeRequested = true // more may be waiting: come back after other work
  }

  #runTimers(now: Micros): void {
    const table = this.#state.table
    if (table.timeWait.size > 0) table.timeWait.expire(now)
    const timers = this.#state.timers
    for (let id = timers.popDue(now); id !== -1; id = timers.popDue(now)) {
      const record = table.get(id)
      if (record === undefined || record.timerAt === undefined || record.timerAt > now) continue
      record.timerAt = undefined
      if (!record.dirty) {
        record.dirty = true
        this.#dirty.push(id)
      }
    }
  }

  #dispatchDirty(now: Micros): void {
    const state = this.#state
    const table = state.table
    const txQueue = state.txQueue
    const pool = state.pool
    const reserve = pool.count >> POOL_RESERVE_SHIFT
    this.#poolStarved = false
    // Dispatching may make more connections dirty (events); loop until quiet.
    while (this.#dirty.length > 0) {
      const ids = this.#dirty
      this.#dirty = this.#dirtySpare
      this.#dirtySpare = ids
      for (let i = 0; i < ids.length; i++) {
        const id = ids.get(i)
        // Backpressure, not drops (issue 16 §3): with a full backlog the port gets what is queued first,
        // and when it cannot take more, or the pool is down to its reserve, the connections not yet
        // served wait for the next iteration, in order.
        if (txQueue.length >= TX_SOFT_LIMIT || pool.available < reserve) {
          state.flush()
          const starved = pool.available < reserve
          if (starved || txQueue.length >= TX_SOFT_LIMIT) {
            for (let j = i; j < ids.length; j++) this.#dirty.push(ids.get(j))
            ids.clear()
            if (starved) this.#poolStarved = true
            else state.wakeRequested = true
            return
          }
        }
        const record = table.get(id)
        if (record === undefined) continue
        record.dirty = false
        const connection = record.connection
        if (connection === undefined) continue
        this.#emitting = record
        this.#emitNow = now
        connection.dispatch(now, this.#emitSegment)
        this.#emitting = undefined
        const events = connection.takeEvents()
        if (events !== 0) this.#connectionEvents(record, events)
        if (record.appClosed) this.maybeRelease(record)
        if (!table.has(id)) continue
        const at = connection.pollAt()
        if (at !== undefined && at !== record.timerAt) {
          record.timerAt = at
          state.timers.push(at, id)
        } else if (at === undefined) {
          record.timerAt = undefined
        }
        if (connection.hasPendingOutput) state.wakeRequested = true
      }
      ids.clear()
    }
  }

  /** Arm the wake-up timer at the earliest deadline: connections' timers, ARP, neighbours, TIME-WAIT, rate limit. */
  #armWake(now: Micros): void {
    const state = this.#state
    if (state.options.busyPoll) {
      state.wakeRequested = true
      return
    }
    let at = state.timers.peekTime()
    const arpAt = state.host.arp.pollAt()
    if (arpAt !== undefined && (at === undefined || arpAt < at)) at = arpAt
    const neighborAt = state.host6?.pollAt()
    if (neighborAt !== undefined && (at === undefined || neighborAt < at)) at = neighborAt
    const timeWaitAt = state.table.timeWait.nextExpiry()
    if (timeWaitAt !== undefined && (at === undefined || timeWaitAt < at)) at = timeWaitAt
    const rateLimitAt = state.txQueue.rateLimitAt
    if (rateLimitAt !== undefined && (at === undefined || rateLimitAt < at)) at = rateLimitAt
    if (this.#poolStarved && (at === undefined || now + POOL_RETRY_US < at)) at = now + POOL_RETRY_US
    if (at === undefined) {
      this.#wake.cancel()
      return
    }
    if (this.#wake.at !== at) this.#wake.arm(Math.max(at, now))
  }

  /** Run the loop again as soon as possible (after the current call returns). */
  scheduleSoon(): void {
    const state = this.#state
    if (state.closed) return
    if (state.polling) {
      state.wakeRequested = true
      return
    }
    const now = state.clock.now()
    if (this.#wake.at === undefined || this.#wake.at > now) this.#wake.arm(now)
  }

  /** Stop waking up (the stack is stopping). */
  cancelWake(): void {
    this.#wake.cancel()
  }

  // ------------------------------------------------------------------ events

  /** After a connection processed input or an application call: turn its events into notifications and queue it for dispatch. */
  afterConnectionWork(record: SocketRecord): void {
    const connection = record.connection!
    const events = connection.takeEvents()
    if (events !== 0) this.#connectionEvents(record, events)
    if (!record.dirty && this.#state.table.has(record.id)) {
      record.dirty = true
      this.#dirty.push(record.id)
    }
  }

  /** After an application call changed a connection: notify, queue for dispatch, make sure the loop runs. */
  touch(record: SocketRecord): void {
    if (record.connection !== undefined) this.afterConnectionWork(record)
    this.scheduleSoon()
  }

  #connectionEvents(record: SocketRecord, events: number): void {
    const state = this.#state
    const connection = record.connection!
    if (events & TcpEvents.CONNECTED && record.parent >= 0) {
      const listener = state.table.get(record.parent)
      if (listener?.listen !== undefined) {
        listener.listen.synQueue.length--
        listener.listen.accepted.push(record.id)
        this.notify(listener, PollEvents.IN)
      }
    }
    if (events & TcpEvents.CLOSED) {
      if (record.parent >= 0) {
        // Died before accept: forget it quietly (RFC 9293: back to LISTEN).
        const listener = state.table.get(record.parent)
        if (listener?.listen !== undefined) {
          if (listener.listen.accepted.includes(record.id)) listener.listen.accepted.splice(listener.listen.accepted.indexOf(record.id), 1)
          else listener.listen.synQueue.length--
        }
        record.appClosed = true
      }
      if (connection.error !== undefined) state.stats.tcp.failedConnections++
      else state.stats.tcp.closedConnections++
    }
    // A CCP flow ends when the connection has nothing more to send: CLOSED, or TIME-WAIT (close MEASURE).
    if (connection.congestion instanceof CcpControl && (events & TcpEvents.CLOSED || connection.state === 'TIME-WAIT')) connection.congestion.free()
    this.notify(record, readinessOf(record))
    if (events & TcpEvents.CLOSED) this.maybeRelease(record)
  }

  /**
   * Tell `record`'s watchers about `events`. During a loop iteration the bits are kept and delivered
   * after it ({@link #deliverEvents}): no application code runs in the middle of a burst, so a callback
   * that reads, writes or closes finds the stack between iterations, never half way through one.
   */
  notify(record: SocketRecord, events: number): void {
    if (record.watchers.length === 0) return
    if (this.#state.polling) {
      this.queueEvents(record, events)
      return
    }
    this.#callWatchers(record, events)
  }

  /** Keep `events` for `record`'s watchers until the next delivery (the end of a loop iteration). */
  queueEvents(record: SocketRecord, events: number): void {
    if (record.pendingEvents === 0) this.#notifyQueue.push(record)
    record.pendingEvents |= events | NOTIFY_QUEUED
  }

  /** Deliver what {@link notify} kept during the iteration, in the order the sockets were first notified. */
  #deliverEvents(): void {
    const queue = this.#notifyQueue
    for (let i = 0; i < queue.length; i++) {
      const record = queue.get(i)
      const events = record.pendingEvents & ~NOTIFY_QUEUED
      record.pendingEvents = 0
      this.#callWatchers(record, events)
      if (record.releasedWithPending) {
        record.releasedWithPending = false
        record.watchers.length = 0
      }
    }
    queue.clear()
  }

  /**
   * Call the watchers. A watcher that throws does not disturb the stack or the other watchers: the
   * error is counted and handed to `onCallbackError` (by default thrown again from a microtask, where
   * Node reports it as it would any callback's).
   */
  #callWatchers(record: SocketRecord, events: number): void {
    const watchers = record.watchers
    for (let i = 0; i < watchers.length; i++) {
      try {
        watchers[i]!(record.id, events)
      } catch (error) {
        this.#state.reportCallbackError(error)
      }
    }
  }

  /**
   * Release the id once the application has closed it and the connection is over, or in TIME-WAIT: that
   * goes on as a compact entry of the TIME-WAIT table, without the socket (time-wait-table.ts).
   */
  maybeRelease(record: SocketRecord): void {
    const state = this.#state
    const connection = record.connection
    if (!record.appClosed) return
    // Not before the last segment (a FIN's ACK, a reset) has been dispatched.
    if (connection !== undefined && connection.hasPendingOutput) return
    if (connection !== undefined && connection.state !== 'CLOSED') {
      if (connection.state !== 'TIME-WAIT' || !record.bound) return
      // A full table drops the entry (counted): the connection then ends without TIME-WAIT. An IPv6 entry
      // keeps the full addresses (time-wait-table.ts).
      const handoff = connection.timeWaitHandoff()!
      if (record.family === 6) state.table.timeWait.add6(record.localIp6!, record.localIp, record.localPort, record.remoteIp6!, record.remoteIp, record.remotePort, record.addressSum, record.flowLabel, handoff)
      else state.table.timeWait.add(record.localIp, record.localPort, record.remoteIp, record.remotePort, handoff)
      state.stats.tcp.closedConnections++
    }
    if (connection !== undefined && record.bound) state.table.removeFlow(record)
    if (record.listen !== undefined) state.unlisten(record)
    if (record.pendingEvents !== 0) record.releasedWithPending = true
    else record.watchers.length = 0
    connection?.releaseBuffers()
    state.table.release(record.id)
  }
}
