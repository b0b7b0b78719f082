/**
 * The histograms the server observes while metrics are on: how long ACK requests take to be
 * answered, how long handlers hold the event loop, and how many local clients a broadcast
 * reaches. The server reaches them through `StatsCounters.observe`, null while metrics are
 * off, so each site costs one null check then.
 */
import type { TransportProtocol } from '../../contracts/index.js';
import type { Histogram, Registry } from './registry.js';
import { TRANSPORTS, transportIndex } from './labels.js';

/** Seconds: ACK answers (from 100 µs, for handlers answering at once, to 10 s). */
export const ACK_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds of synchronous handler time (a handler holding the loop past 100 ms is a problem). */
export const HANDLER_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** Local recipients of one broadcast. */
export const FANOUT_BUCKETS = [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000];

export const HANDLER_KINDS = ['event', 'ack'] as const;
export type HandlerKind = (typeof HANDLER_KINDS)[number];

/**
 * One inbound event in this many (on average) has its handlers timed. Two clock reads cost
 * more than the rest of the metrics on the inbound path together (0.1 to 0.2 µs each where
 * the clock is slow, as in many VMs): timing every event made the inbound path 15% dearer.
 * The gaps are random, so a periodic traffic pattern cannot hide from the sample.
 * ACK requests are all timed (they cost far more than their four clock reads).
 */
export const EVENT_SAMPLE = 16;

export class Observations {
  readonly #ack: Histogram;
  readonly #handler: Histogram;
  readonly #fanout: Histogram;
  /** Events until the next timed one; the first event is timed. */
  #untilTimedEvent = 1;

  constructor(registry: Registry) {
    this.#ack = registry.histogram(
      {
        name: 'stelar_ack_duration_seconds',
        help: 'Time from an ACK request reaching its handler to its response being sent (server side).',
        labels: { transport: TRANSPORTS },
      },
      ACK_BUCKETS,
    );
    this.#handler = registry.histogram(
      {
        name: 'stelar_handler_duration_seconds',
        help: `Synchronous run time of the handlers of one inbound event (one event in ${EVENT_SAMPLE} on average is timed) or ACK request (each one): what holds the event loop; an async handler's awaits are not included.`,
        labels: { kind: HANDLER_KINDS },
      },
      HANDLER_BUCKETS,
    );
    this.#fanout = registry.histogram({ name: 'stelar_broadcast_recipients', help: 'Local clients one broadcast was written to.' }, FANOUT_BUCKETS);
  }

  /**
   * Starts timing an ACK request; the returned function (called once, when the response is
   * sent) records it, then calls `then`.
   */
  ackTimer(protocol: TransportProtocol, then: (() => void) | undefined): () => void {
    const start = performance.now();
    const slot = transportIndex(protocol);
    return () => {
      this.#ack.observe(slot, (performance.now() - start) / 1000);
      then?.();
    };
  }

  /** Whether to time this inbound event's handlers (one in EVENT_SAMPLE on average). */
  sampleEvent(): boolean {
    if (--this.#untilTimedEvent > 0) return false;
    this.#untilTimedEvent = 1 + Math.floor(Math.random() * (2 * EVENT_SAMPLE - 1));
    return true;
  }

  /** Handlers started at `start` (performance.now()) have returned. */
  handlersRan(kind: HandlerKind, start: number): void {
    this.#handler.observe(kind === 'event' ? 0 : 1, (performance.now() - start) / 1000);
  }

  broadcast(recipients: number): void {
    this.#fanout.observe(0, recipients);
  }
}
