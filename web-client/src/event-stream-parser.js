// A parser of text/event-stream, the format of Server-Sent Events.

/**
 * Splits a text/event-stream into events as its text arrives (the WHATWG "event stream"
 * interpretation, without `event:` names and `retry:`, which Switchboard does not send).
 * `onEvent({data, id})` for each event with data; `onComment()` for each comment (keep-alives).
 */
export class EventStreamParser {
  #buffer = '';
  /** @type {string | null} */
  #data = null;
  /** @type {string | undefined} */
  #id = undefined;
  #onEvent;
  #onComment;

  /**
   * @param {(event: {data: string, id?: string}) => void} onEvent
   * @param {() => void} [onComment]
   */
  constructor(onEvent, onComment = () => {}) {
    this.#onEvent = onEvent;
    this.#onComment = onComment;
  }

  /** @param {string} text */
  push(text) {
    this.#buffer += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buffer);
      // A lone '\r' at the end may be the first half of "\r\n": wait for more.
      if (!m || (m[0] === '\r' && m.index === this.#buffer.length - 1)) return;
      const line = this.#buffer.slice(0, m.index);
      this.#buffer = this.#buffer.slice(m.index + m[0].length);
      this.#line(line);
    }
  }

  /** @param {string} line */
  #line(line) {
    if (line === '') {
      if (this.#data !== null) this.#onEvent({ data: this.#data, id: this.#id });
      this.#data = null;
      this.#id = undefined;
      return;
    }
    if (line.startsWith(':')) { this.#onComment(); return; }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data = this.#data === null ? value : `${this.#data}\n${value}`;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
  }
}
