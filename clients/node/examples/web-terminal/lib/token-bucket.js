// A token bucket: `rate` tokens a second, at most `burst` saved up. Used for the per-socket
// message rate and input byte rate, so one tab cannot flood the server or the jail.
export class TokenBucket {
  #rate;
  #burst;
  #tokens;
  #last;
  #now;

  constructor({ rate, burst }, now = () => performance.now()) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#now = now;
    this.#last = now();
  }

  take(n = 1) {
    const t = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((t - this.#last) / 1000) * this.#rate);
    this.#last = t;
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }
}
