// The live feed: Server-Sent Events read over fetch, because EventSource cannot send the
// Authorization header and a token must never travel in a URL.
"use strict";

// A text/event-stream parser (the WHATWG rules: fields event/data/id/retry, comments start with
// ":", a blank line dispatches, a single space after the colon is dropped, CR, LF or CRLF end a line).
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buf = "";
    this.type = "";
    this.data = [];
    this.lastId = "";
    this.retry = null;
  }

  push(text) {
    this.buf += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      // a lone CR at the end may be the first half of a CRLF: wait for the next chunk
      if (!m || (m[0] === "\r" && m.index === this.buf.length - 1)) return;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === "") { this.dispatch(); return; }
    if (line.startsWith(":")) return;  // a comment: the server's keepalive
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? "" : line.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
  }

  dispatch() {
    const type = this.type || "message", data = this.data.join("\n");
    const had = this.data.length > 0;
    this.type = ""; this.data = [];
    if (had) this.onEvent({type, data, id: this.lastId});
  }
}

// One live connection at a time; it reconnects after a drop, with a growing pause, until stopped.
// onEvent({type, data, id}) gets each event; onState(state, detail) hears "connecting", "open",
// "retrying", "refused" (401/403/404: not retried) and "off".
export class LiveFeed {
  constructor(url, headers, onEvent, onState) {
    this.url = url; this.headers = headers; this.onEvent = onEvent; this.onState = onState;
    this.ctrl = null; this.stopped = false; this.pause = 1000;
  }

  start() { this.run(); return this; }

  stop() {
    this.stopped = true;
    if (this.ctrl) this.ctrl.abort();
    this.onState("off");
  }

  async run() {
    let lastId = "";
    while (!this.stopped) {
      this.ctrl = new AbortController();
      const parser = new SseParser((ev) => { lastId = ev.id; this.onEvent(ev); });
      this.onState("connecting");
      try {
        const headers = Object.assign({Accept: "text/event-stream"}, this.headers);
        if (lastId) headers["Last-Event-ID"] = lastId;
        const res = await fetch(this.url, {headers, signal: this.ctrl.signal, cache: "no-store"});
        if (!res.ok) {
          const body = await res.json().catch(() => ({}));
          const msg = body.error || body.detail || `HTTP ${res.status}`;
          if ([400, 401, 403, 404].includes(res.status)) { this.onState("refused", msg); return; }
          throw new Error(msg);
        }
        this.onState("open");
        this.pause = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          parser.push(value);
        }
      } catch (e) {
        if (this.stopped) return;
        this.onState("retrying", e.message);
      }
      if (this.stopped) return;
      if (parser.retry !== null) this.pause = parser.retry;
      this.onState("retrying", `reconnecting in ${Math.round(this.pause / 1000)} s`);
      await new Promise((r) => setTimeout(r, this.pause));
      this.pause = Math.min(this.pause * 2, 15000);
    }
  }
}
