/**
 * A streaming parser for server-sent events (the `text/event-stream` format of
 * the WHATWG HTML standard, "Parsing an event stream"). It takes text in pieces
 * of any size — a piece may end in the middle of a line, or between the `\r` and
 * `\n` of a line break — and returns the events completed so far.
 */

/** One dispatched event. `event` is `'message'` unless the server named it. */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export class SseParser {
  /** Text after the last line break, waiting for the rest of its line. */
  private partial = '';
  /** A piece ended in `\r`: a `\n` opening the next piece belongs to that break. */
  private pendingCr = false;
  private atStart = true;
  private data: string[] = [];
  private eventType = '';
  private lastId: string | undefined;

  /** Parses one piece of the stream; returns the events it completed. */
  feed(text: string): SseEvent[] {
    if (text === '') return [];
    if (this.atStart) {
      this.atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;

    const events: SseEvent[] = [];
    const buffer = this.partial + text;
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const ch = buffer.charCodeAt(i);
      if (ch !== 0x0a && ch !== 0x0d) continue;
      this.line(buffer.slice(start, i), events);
      if (ch === 0x0d) {
        if (i + 1 === buffer.length) this.pendingCr = true;
        else if (buffer.charCodeAt(i + 1) === 0x0a) i++;
      }
      start = i + 1;
    }
    this.partial = buffer.slice(start);
    return events;
  }

  /**
   * Ends the stream. The standard drops an event that was not followed by a
   * blank line; servers that end with `data: [DONE]` and no newline exist, so
   * the last line and event are kept instead.
   */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.partial !== '') this.line(this.partial, events);
    this.partial = '';
    this.line('', events);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === '') {
      this.dispatch(events);
      return;
    }
    if (line.startsWith(':')) return; // a comment, e.g. the `: keep-alive` some proxies send
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      default:
        // `retry` and unknown fields mean nothing to a one-shot request.
        break;
    }
  }

  private dispatch(events: SseEvent[]): void {
    if (this.data.length > 0) {
      const event: SseEvent = { event: this.eventType || 'message', data: this.data.join('\n') };
      if (this.lastId !== undefined) event.id = this.lastId;
      events.push(event);
    }
    this.data = [];
    this.eventType = '';
  }
}
