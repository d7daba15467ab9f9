// Handing something a request gives up (a store instance, a session's turn to save) to the
// request that has waited longest. The waiter finds it on a timer of its own instead of being
// woken by the giver's promise: under workerd, a request woken by another request's promise
// went on to make store calls that workerd then cancelled as hung ("would never generate a
// response"), leaving its instance suspended for good; requests that wake on their own
// timers never were.

/** A waiter that has not looked for this long was cancelled (its timers never fire again), in ms. */
export const ABANDONED_MS = 250;

/** How often the waiters are checked for ones that stopped looking, at most, in ms. */
const RECLAIM_EVERY_MS = 50;

/** Waiters in arrival order, each handed at most one value by `hand`. */
export class Handoff {
  /** Waiters not yet handed a value, oldest first: `{ value, has, error, seen, lost }`. */
  #waiting = [];
  /** Waiters handed a value they have not yet taken. */
  #handed = new Set();
  /** When the waiters were last checked for ones that stopped looking (ms since the epoch). */
  #checkedAt = 0;
  #unclaimed;

  /**
   * @param {(value: any) => void} unclaimed takes back a value handed to a waiter that stopped
   *   looking, when no other waiter is left to hand it to
   */
  constructor(unclaimed) {
    this.#unclaimed = unclaimed;
  }

  /**
   * The value handed to this waiter. Looks for it every `pauseMs(ahead)` ms (`ahead`: the
   * waiters before this one); past `deadline` (ms since the epoch; none by default) throws
   * `timeout()`; throws the error given to `fail`.
   */
  async wait(pauseMs, deadline = Infinity, timeout = undefined) {
    const waiter = { value: undefined, has: false, error: undefined, seen: Date.now(), lost: false };
    this.#waiting.push(waiter);
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, pauseMs(this.#waiting.indexOf(waiter))));
      waiter.seen = Date.now();
      if (waiter.has) {
        this.#handed.delete(waiter);
        return waiter.value;
      }
      if (waiter.error !== undefined) throw waiter.error;
      if (waiter.lost) {
        // Taken for cancelled while its timers ran late: it queues again.
        waiter.lost = false;
        this.#waiting.push(waiter);
      }
      this.#reclaim();
      if (waiter.seen >= deadline) {
        this.#waiting = this.#waiting.filter((other) => other !== waiter);
        throw timeout();
      }
    }
  }

  /** Hands `value` to the oldest waiter still looking; false when none waits. */
  hand(value) {
    this.#reclaim();
    return this.#give(value);
  }

  /** Fails every waiter not yet handed a value with `error`. */
  fail(error) {
    for (const waiter of this.#waiting.splice(0)) waiter.error = error;
  }

  #give(value) {
    const waiter = this.#waiting.shift();
    if (waiter === undefined) return false;
    waiter.value = value;
    waiter.has = true;
    this.#handed.add(waiter);
    return true;
  }

  /** Drops the waiters that stopped looking, and hands on (or gives back) their values. */
  #reclaim() {
    const now = Date.now();
    // Every waiter calls this at each look: one check per RECLAIM_EVERY_MS is enough to
    // notice, within ABANDONED_MS, a waiter that stopped looking.
    if (now - this.#checkedAt < RECLAIM_EVERY_MS) return;
    this.#checkedAt = now;
    const abandoned = (waiter) => now - waiter.seen > ABANDONED_MS;
    this.#waiting = this.#waiting.filter((waiter) => {
      if (!abandoned(waiter)) return true;
      waiter.lost = true;
      return false;
    });
    for (const waiter of [...this.#handed].filter(abandoned)) {
      this.#handed.delete(waiter);
      const { value } = waiter;
      waiter.value = undefined;
      waiter.has = false;
      waiter.lost = true;
      if (!this.#give(value)) this.#unclaimed(value);
    }
  }
}
