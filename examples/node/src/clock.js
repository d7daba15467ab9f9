// The wall clock the component sees (wasi:clocks/wall-clock). It is the host's clock plus
// an offset that tests move forward, so expiry is tested without sleeping.

export class HostClock {
  #offsetMs = 0;

  /** Milliseconds since the Unix epoch, as the component sees them. */
  nowMs() {
    return Date.now() + this.#offsetMs;
  }

  /** Moves this clock by `ms` (may be negative). */
  shift(ms) {
    this.#offsetMs += ms;
  }

  /** This clock as a `wasi:clocks/wall-clock` implementation. */
  wallClock() {
    return {
      now: () => {
        const ms = this.nowMs();
        return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1e6 };
      },
      resolution: () => ({ seconds: 0n, nanoseconds: 1e6 }),
    };
  }
}
