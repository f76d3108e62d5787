// Answers on their way to the server: sent one after another, as soon as they are given,
// retried with back-off while the server cannot be reached, and kept on screen when the
// server refuses one, so nothing is ever dropped without the annotator seeing it.

const DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Outbox {
  /**
   * `send(body)` returns a promise (rejected with an ApiError on failure); `onChange(outbox)`
   * is called whenever the queue, the retry state or the failures change; `onSent(entry,
   * reply)` after the server acknowledged an answer.
   */
  constructor(send, { onChange = () => {}, onSent = () => {}, delays = DELAYS_MS } = {}) {
    this.send = send;
    this.onChange = onChange;
    this.onSent = onSent;
    this.delays = delays;
    this.queue = [];
    this.failed = [];
    this.retrying = null;
    this.running = false;
    this.waiters = [];
  }

  /** Number of answers not yet acknowledged (queued or being retried). */
  get pending() {
    return this.queue.length;
  }

  /** Queue an answer for sending; `label` describes it in messages. */
  add(body, label) {
    this.queue.push({ body, label, attempts: 0, error: null });
    this.onChange(this);
    this.pump();
  }

  /** Resolves once every queued answer was acknowledged or refused. */
  drain() {
    if (!this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Send a refused answer again (same idempotency key). */
  retry(entry) {
    this.failed = this.failed.filter((e) => e !== entry);
    entry.attempts = 0;
    entry.error = null;
    this.queue.push(entry);
    this.onChange(this);
    this.pump();
  }

  /** Forget a refused answer (the annotator chose to). */
  dismiss(entry) {
    this.failed = this.failed.filter((e) => e !== entry);
    this.onChange(this);
  }

  async pump() {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const entry = this.queue[0];
        try {
          entry.attempts += 1;
          const reply = await this.send(entry.body);
          this.queue.shift();
          this.retrying = null;
          this.onChange(this);
          this.onSent(entry, reply);
        } catch (error) {
          entry.error = error;
          if (error && error.transient === false) {
            this.queue.shift();
            this.failed.push(entry);
            this.retrying = null;
            this.onChange(this);
          } else {
            this.retrying = entry;
            this.onChange(this);
            await sleep(this.delays[Math.min(entry.attempts - 1, this.delays.length - 1)]);
          }
        }
      }
    } finally {
      this.running = false;
      const waiters = this.waiters;
      this.waiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
