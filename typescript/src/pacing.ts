/**
 * How fast one client may send: a request budget shared by every operation of the client.
 *
 * A self-hosted OpenHands server limits each client address to 10 requests a second: past 10
 * it holds requests for a second, past 20 it answers 429. Many concurrent waits on one client
 * would go past that; with a shared budget they slow down together instead of failing.
 *
 * The "generic cell rate" form of a token bucket: ``burst`` requests may go at once, then one
 * every ``1/rate`` seconds; {@link RequestBudget.reserve} books the next slot and says how
 * long to wait for it, so concurrent callers queue in the order they asked. Pure: the driver
 * supplies the clock and does the waiting.
 */

/** The self-hosted server's limiter: 10 requests a second. */
export const SELF_HOSTED_RATE = 10;
export const SELF_HOSTED_BURST = 10;

export class RequestBudget {
  #next = 0;

  constructor(
    readonly rate: number,
    readonly burst = 1,
  ) {
    if (!(rate > 0) || burst < 1) throw new RangeError("a request budget needs rate > 0 and burst >= 1");
  }

  /** Book one request at monotonic ``now`` (ms): the milliseconds to wait before sending it. */
  reserve(now: number): number {
    const spacing = 1000 / this.rate;
    const start = Math.max(this.#next, now);
    const wait = Math.max(0, start - (this.burst - 1) * spacing - now);
    this.#next = start + spacing;
    return wait;
  }
}
