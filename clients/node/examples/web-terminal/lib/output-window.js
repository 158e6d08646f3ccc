// End-to-end flow control between a jailed session and one browser tab. Output leaves the
// server as numbered chunks; the browser acknowledges a sequence number once xterm.js has
// rendered everything up to it. While more than `highWater` characters are unacknowledged the
// session is paused, which stops the client library granting ccjaild credit, so the jail
// itself blocks on its terminal: a slow or stalled tab costs the server a bounded buffer.
export class OutputWindow {
  #highWater;
  #lowWater;
  #pause;
  #resume;
  #nextSeq = 1;
  #inFlight = []; // [seq, size], oldest first
  #unacked = 0;
  #paused = false;

  constructor({ highWater, lowWater = Math.floor(highWater / 2), pause, resume }) {
    this.#highWater = highWater;
    this.#lowWater = lowWater;
    this.#pause = pause;
    this.#resume = resume;
  }

  get unacked() {
    return this.#unacked;
  }

  get paused() {
    return this.#paused;
  }

  // Returns the sequence number to send with a chunk of `size`.
  sent(size) {
    const seq = this.#nextSeq++;
    this.#inFlight.push([seq, size]);
    this.#unacked += size;
    if (!this.#paused && this.#unacked > this.#highWater) {
      this.#paused = true;
      this.#pause();
    }
    return seq;
  }

  // Acknowledgements are cumulative. Returns false for a sequence number that was never sent
  // (a confused or hostile page), which the caller treats as a protocol violation.
  acked(seq) {
    if (!Number.isSafeInteger(seq) || seq < 1 || seq >= this.#nextSeq) return false;
    while (this.#inFlight.length > 0 && this.#inFlight[0][0] <= seq) {
      this.#unacked -= this.#inFlight.shift()[1];
    }
    if (this.#paused && this.#unacked <= this.#lowWater) {
      this.#paused = false;
      this.#resume();
    }
    return true;
  }
}
