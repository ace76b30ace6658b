// torsion.web.live: the page's side of a live element (plain JavaScript, no build step).
//
// A LivePage loads this file with a <script> tag whose data attributes say which
// element the page shows and where its WebSocket is; it then offers window.torsion:
//
//   torsion.call(name, ...args)  -> Promise: call the element's @expose method `name`;
//                                   a Python exception rejects it with an Error whose
//                                   name and message are the exception's type and text.
//   torsion.expose(name, fn)     :  let the server call fn (element.callRemote(name,
//   torsion.expose({name: fn})      ...)); what fn returns (or its Promise resolves to)
//                                   is the result. Only exposed functions can be called.
//   torsion.state                :  "connecting", "open", "reconnecting", "gone" (the
//                                   server forgot the element: reload), "failed".
//   torsion.onstate(fn)          :  call fn(state) on every change; the state is also in
//                                   <html data-torsion-live="...">, for CSS.
//
// The protocol is torsion/web/_livewire.py's (read its docstring): every call, result
// and error is numbered and kept until the server acknowledges it, so after a dropped
// connection the page reconnects (with growing pauses), says what it last received,
// and both sides replay only what the other missed. Tests: tests/web/live/test_js.py
// (under Node) and tests/web/live/test_chromium.py (a real browser).
(function () {
  "use strict";

  const PROTOCOL_VERSION = 1;
  const SUBPROTOCOL = "torsion-live.1";
  const CLOSE_PROTOCOL_ERROR = 4400;
  const CLOSE_GONE = 4404;
  const CLOSE_REPLACED = 4409;
  const MAX_NUMBER = Number.MAX_SAFE_INTEGER;
  const RETRY_DELAYS = [250, 500, 1000, 2000, 4000, 8000];

  class LiveProtocolError extends Error {
    constructor(message) {
      super(message);
      this.name = "LiveProtocolError";
    }
  }

  function counter(message, key) {
    const value = message[key];
    if (!Number.isInteger(value) || value < 0 || value > MAX_NUMBER) {
      throw new LiveProtocolError(`a ${message.type} message needs ${key}, not ${value}`);
    }
    return value;
  }

  function errorFrom(error) {
    const type = (error && typeof error.name === "string" && error.name) || "Error";
    const message = error && error.message !== undefined ? String(error.message) : String(error);
    return { type: type.slice(0, 200), message: message.slice(0, 4096) };
  }

  class LiveClient {
    // options: element, url, maxMessageSize, maxCallsInFlight, maxQueuedBytes, and for
    // tests WebSocket, setTimeout, clearTimeout, random, log.
    constructor(options) {
      this.element = options.element;
      this.url = options.url;
      this.maxMessageSize = options.maxMessageSize || 1048576;
      this.maxCallsInFlight = options.maxCallsInFlight || 32;
      this.maxQueuedBytes = options.maxQueuedBytes || 4194304;
      this.WebSocket = options.WebSocket;
      this.setTimeout = options.setTimeout || ((f, ms) => setTimeout(f, ms));
      this.clearTimeout = options.clearTimeout || ((t) => clearTimeout(t));
      this.random = options.random || Math.random;
      this.log = options.log || console;
      this.state = "connecting";
      this.listeners = [];
      this.functions = new Map();
      this.socket = null;
      this.connected = false;
      this.attempt = 0;
      this.retryTimer = null;
      this.flushScheduled = false;
      this.lastSent = 0;
      this.lastReceived = 0;
      this.lastAckSent = 0;
      this.sentUpTo = 0;
      this.outbox = []; // [seq, JSON text without its ack], oldest first
      this.queuedBytes = 0;
      this.awaiting = new Map(); // our call's seq -> {resolve, reject}
      this.waiting = []; // calls held back by maxCallsInFlight
      this.answering = new Set();
    }

    // -- the page's API ---------------------------------------------------------------

    call(name, ...args) {
      if (typeof name !== "string" || name.length === 0 || name.length > 128) {
        return Promise.reject(new TypeError("torsion.call needs a method name (1 to 128 characters)"));
      }
      if (this.state === "gone" || this.state === "failed") {
        return Promise.reject(this.endError());
      }
      return new Promise((resolve, reject) => {
        this.waiting.push({ name, args, resolve, reject });
        this.startWaiting();
        this.scheduleFlush();
      });
    }

    expose(name, fn) {
      if (typeof name === "object" && name !== null) {
        for (const [key, value] of Object.entries(name)) this.expose(key, value);
        return;
      }
      if (typeof fn !== "function") throw new TypeError(`torsion.expose(${name}, ...) needs a function`);
      this.functions.set(name, fn);
    }

    onstate(fn) {
      this.listeners.push(fn);
    }

    // -- connections ------------------------------------------------------------------

    connect() {
      this.retryTimer = null;
      let socket;
      try {
        socket = new this.WebSocket(this.url, [SUBPROTOCOL]);
      } catch (error) {
        this.log.error("torsion.live: cannot open", this.url, error);
        this.retry();
        return;
      }
      this.socket = socket;
      socket.onopen = () => {
        if (socket !== this.socket) return;
        socket.send(JSON.stringify({ type: "hello", v: PROTOCOL_VERSION, element: this.element, ack: this.lastReceived }));
      };
      socket.onmessage = (event) => {
        if (socket !== this.socket) return;
        try {
          this.received(event.data);
        } catch (error) {
          if (!(error instanceof LiveProtocolError)) throw error;
          this.log.error("torsion.live: the server broke the protocol:", error.message);
          this.end("failed", error);
        }
      };
      socket.onclose = (event) => {
        if (socket !== this.socket) return;
        this.socket = null;
        this.connected = false;
        this.closed(event.code, event.reason);
      };
      socket.onerror = () => {}; // a close event follows, with what there is to know
    }

    closed(code, reason) {
      if (code === CLOSE_GONE) {
        this.end("gone", new Error(reason || "the server no longer has this live page; reload it"));
      } else if (code === CLOSE_PROTOCOL_ERROR) {
        this.log.error("torsion.live: the server refused the conversation:", reason);
        this.end("failed", new Error(reason || "live protocol error"));
      } else if (code === CLOSE_REPLACED) {
        this.end("failed", new Error("this live page was opened on another connection"));
      } else {
        this.retry();
      }
    }

    retry() {
      if (this.state === "gone" || this.state === "failed" || this.retryTimer !== null) return;
      this.setState("reconnecting");
      const base = RETRY_DELAYS[Math.min(this.attempt, RETRY_DELAYS.length - 1)];
      this.attempt += 1;
      this.retryTimer = this.setTimeout(() => this.connect(), base * (0.5 + this.random() / 2));
    }

    // Reconnect at once (the browser says it is online again, say).
    reconnectNow() {
      if (this.retryTimer === null) return;
      this.clearTimeout(this.retryTimer);
      this.connect();
    }

    endError() {
      return new Error(
        this.state === "gone" ? "the server no longer has this live page; reload it" : "the live connection failed"
      );
    }

    end(state, error) {
      this.setState(state);
      if (this.retryTimer !== null) this.clearTimeout(this.retryTimer);
      this.retryTimer = null;
      const socket = this.socket;
      this.socket = null;
      this.connected = false;
      if (socket !== null) socket.close(1000);
      const rejected = [...this.awaiting.values(), ...this.waiting];
      this.awaiting.clear();
      this.waiting = [];
      for (const call of rejected) call.reject(error);
    }

    setState(state) {
      if (state === this.state) return;
      this.state = state;
      for (const fn of this.listeners) {
        try {
          fn(state);
        } catch (error) {
          this.log.error("torsion.live: an onstate listener failed", error);
        }
      }
    }

    // -- sending ----------------------------------------------------------------------

    queue(message) {
      const seq = this.lastSent + 1;
      message.seq = seq;
      const text = JSON.stringify(message);
      if (text.length + 32 > this.maxMessageSize) {
        throw new RangeError(`a ${message.type} message of ${text.length} characters is over the limit of ${this.maxMessageSize}`);
      }
      this.lastSent = seq;
      this.outbox.push([seq, text]);
      this.queuedBytes += text.length;
      this.scheduleFlush();
      return seq;
    }

    startWaiting() {
      while (this.waiting.length > 0 && this.awaiting.size < this.maxCallsInFlight) {
        const call = this.waiting.shift();
        if (this.queuedBytes > this.maxQueuedBytes) {
          call.reject(new RangeError("too many calls wait for the server; it is unreachable or slow"));
          continue;
        }
        let seq;
        try {
          seq = this.queue({ type: "call", name: call.name, args: call.args });
        } catch (error) {
          call.reject(error);
          continue;
        }
        this.awaiting.set(seq, call);
      }
    }

    answer(callID, outcome) {
      if (!this.answering.delete(callID)) return;
      try {
        this.queue(outcome);
        return;
      } catch (error) {
        if (outcome.type === "error") {
          outcome.error = { type: outcome.error.type.slice(0, 40), message: "(too long to send)" };
        } else {
          outcome = { type: "error", call: callID, error: errorFrom(error) };
        }
      }
      this.queue(outcome);
    }

    scheduleFlush() {
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }

    flush() {
      if (!this.connected || this.socket === null) return;
      const ack = this.lastReceived;
      let sent = false;
      for (const [seq, text] of this.outbox) {
        if (seq > this.sentUpTo) {
          this.socket.send(`{"ack":${ack},${text.slice(1)}`);
          sent = true;
        }
      }
      this.sentUpTo = this.lastSent;
      if (!sent && ack > this.lastAckSent) this.socket.send(`{"type":"ack","ack":${ack}}`);
      this.lastAckSent = ack;
    }

    acknowledged(ack) {
      if (ack > this.lastSent) {
        throw new LiveProtocolError(`the server acknowledges message ${ack}, but only ${this.lastSent} were sent`);
      }
      while (this.outbox.length > 0 && this.outbox[0][0] <= ack) {
        this.queuedBytes -= this.outbox.shift()[1].length;
      }
    }

    // -- receiving --------------------------------------------------------------------

    received(data) {
      if (typeof data !== "string") throw new LiveProtocolError("a binary message");
      // The server counts code points; a JavaScript string's length counts UTF-16 units,
      // up to two per code point.
      if (data.length > 2 * this.maxMessageSize) {
        throw new LiveProtocolError(`a message of ${data.length} characters is over the limit`);
      }
      let message;
      try {
        message = JSON.parse(data);
      } catch (error) {
        throw new LiveProtocolError(`a message that is not JSON: ${error.message}`);
      }
      if (message === null || typeof message !== "object" || Array.isArray(message)) {
        throw new LiveProtocolError("a message that is not a JSON object");
      }
      if (!this.connected) {
        if (message.type !== "welcome") {
          throw new LiveProtocolError(`the server's first message is a welcome, not ${message.type}`);
        }
        this.resume(counter(message, "ack"));
        return;
      }
      if (message.type === "ack") {
        this.acknowledged(counter(message, "ack"));
        this.startWaiting();
        return;
      }
      if (message.type !== "call" && message.type !== "result" && message.type !== "error") {
        throw new LiveProtocolError(`a message of unknown type ${message.type}`);
      }
      const seq = counter(message, "seq");
      this.acknowledged(counter(message, "ack"));
      if (seq <= this.lastReceived) return; // replayed: seen before the connection dropped
      if (seq !== this.lastReceived + 1) {
        throw new LiveProtocolError(`message ${seq} arrived after message ${this.lastReceived}`);
      }
      if (message.type === "call") {
        if (typeof message.name !== "string" || !Array.isArray(message.args)) {
          throw new LiveProtocolError("a call message needs a name and args");
        }
        this.lastReceived = seq;
        this.called(seq, message.name, message.args);
      } else {
        const callID = counter(message, "call");
        const call = this.awaiting.get(callID);
        if (call === undefined) throw new LiveProtocolError(`an answer to call ${callID}, which is not open`);
        this.awaiting.delete(callID);
        this.lastReceived = seq;
        if (message.type === "result") {
          call.resolve(message.value);
        } else {
          const detail = message.error || {};
          const error = new Error(String(detail.message));
          error.name = String(detail.type);
          call.reject(error);
        }
        this.startWaiting();
      }
      this.scheduleFlush();
    }

    resume(ack) {
      const first = this.outbox.length > 0 ? this.outbox[0][0] - 1 : this.lastSent;
      if (ack < first) throw new LiveProtocolError(`the server lost messages it had acknowledged`);
      this.acknowledged(ack);
      this.connected = true;
      this.attempt = 0;
      this.sentUpTo = ack;
      this.lastAckSent = this.lastReceived;
      this.setState("open");
      this.startWaiting();
      this.flush();
    }

    called(callID, name, args) {
      this.answering.add(callID);
      const fn = this.functions.get(name);
      if (fn === undefined) {
        this.answer(callID, { type: "error", call: callID, error: { type: "TypeError", message: `the page has no function ${name} (torsion.expose it)` } });
        return;
      }
      let value;
      try {
        value = fn(...args);
      } catch (error) {
        this.answer(callID, { type: "error", call: callID, error: errorFrom(error) });
        return;
      }
      const settle = (result) => this.answer(callID, { type: "result", call: callID, value: result === undefined ? null : result });
      const reject = (error) => this.answer(callID, { type: "error", call: callID, error: errorFrom(error) });
      if (value !== null && typeof value === "object" && typeof value.then === "function") {
        Promise.resolve(value).then(settle, reject);
      } else {
        settle(value);
      }
    }
  }

  function start() {
    const script = document.currentScript;
    const data = script.dataset;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const client = new LiveClient({
      element: data.element,
      url: `${scheme}//${location.host}${data.endpoint}`,
      maxMessageSize: Number(data.maxMessageSize),
      maxCallsInFlight: Number(data.maxCallsInFlight),
      WebSocket: window.WebSocket,
    });
    const root = document.documentElement;
    root.dataset.torsionLive = client.state;
    client.onstate((state) => {
      root.dataset.torsionLive = state;
    });
    window.addEventListener("online", () => client.reconnectNow());
    const torsion = {
      call: (name, ...args) => client.call(name, ...args),
      expose: (name, fn) => client.expose(name, fn),
      onstate: (fn) => client.onstate(fn),
      get state() {
        return client.state;
      },
    };
    window.torsion = torsion;
    // Connect once the page's own scripts have run and exposed their functions.
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", () => client.connect());
    } else {
      client.connect();
    }
  }

  if (typeof module === "object" && module.exports) {
    module.exports = { LiveClient, LiveProtocolError };
  } else if (typeof document !== "undefined" && document.currentScript && document.currentScript.dataset.element) {
    start();
  }
})();
