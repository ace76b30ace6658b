// The page's live client (torsion/web/_live.js) under Node, against a fake WebSocket
// and fake timers: calls, answers, acknowledgements, replay after a dropped connection,
// limits and protocol errors. Run by tests/web/live/test_js.py (node --test).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const { LiveClient } = require(path.join(__dirname, "..", "..", "..", "..", "torsion", "web", "_live.js"));

class FakeSocket {
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.made.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code) {
    this.closedWith = code;
  }
  // What the server does:
  open() {
    this.onopen({});
  }
  deliver(message) {
    this.onmessage({ data: typeof message === "string" ? message : JSON.stringify(message) });
  }
  drop(code = 1006, reason = "") {
    this.onclose({ code, reason });
  }
  take() {
    const sent = this.sent;
    this.sent = [];
    return sent;
  }
}
FakeSocket.made = [];

function makeClient(options = {}) {
  FakeSocket.made = [];
  const timers = [];
  const errors = [];
  const client = new LiveClient({
    element: "E1",
    url: "ws://127.0.0.1/live",
    WebSocket: FakeSocket,
    setTimeout: (fn, ms) => {
      const timer = { fn, ms };
      timers.push(timer);
      return timer;
    },
    clearTimeout: (timer) => {
      timer.cancelled = true;
    },
    random: () => 1,
    log: { error: (...args) => errors.push(args.join(" ")) },
    ...options,
  });
  return { client, timers, errors };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function opened(options) {
  const made = makeClient(options);
  made.client.connect();
  const socket = FakeSocket.made.at(-1);
  socket.open();
  assert.deepEqual(socket.take(), [{ type: "hello", v: 1, element: "E1", ack: 0 }]);
  socket.deliver({ type: "welcome", ack: 0 });
  assert.equal(made.client.state, "open");
  return { ...made, socket };
}

test("hello names the element and asks for the subprotocol", async () => {
  const { socket } = await opened();
  assert.equal(socket.url, "ws://127.0.0.1/live");
  assert.deepEqual(socket.protocols, ["torsion-live.1"]);
});

test("a call goes out numbered and its result resolves the promise", async () => {
  const { client, socket } = await opened();
  const answer = client.call("say", "hi", 2);
  await tick();
  assert.deepEqual(socket.take(), [{ ack: 0, type: "call", name: "say", args: ["hi", 2], seq: 1 }]);
  socket.deliver({ type: "result", seq: 1, ack: 1, call: 1, value: { ok: true } });
  assert.deepEqual(await answer, { ok: true });
  await tick();
  assert.deepEqual(socket.take(), [{ type: "ack", ack: 1 }]);
});

test("an error answer rejects with the server's type and message", async () => {
  const { client, socket } = await opened();
  const answer = client.call("boom");
  await tick();
  socket.deliver({ type: "error", seq: 1, ack: 1, call: 1, error: { type: "ValueError", message: "bad" } });
  await assert.rejects(answer, (error) => error.name === "ValueError" && error.message === "bad");
});

test("the server calls an exposed function; a plain result carries the ack", async () => {
  const { client, socket } = await opened();
  client.expose("add", (a, b) => a + b);
  socket.deliver({ type: "call", seq: 1, ack: 0, name: "add", args: [2, 3] });
  await tick();
  assert.deepEqual(socket.take(), [{ ack: 1, type: "result", call: 1, value: 5, seq: 1 }]);
});

test("expose takes an object; promises, undefined, throwing and missing functions", async () => {
  const { client, socket } = await opened();
  client.expose("shout", (s) => s.toUpperCase());
  client.expose({
    later: async (x) => x * 2,
    nothing: () => undefined,
    fail: () => {
      throw new RangeError("no");
    },
  });
  const calls = [["later", [21]], ["nothing", []], ["fail", []], ["shout", ["a"]], ["missing", []], ["eval", ["1"]]];
  calls.forEach(([name, args], i) => socket.deliver({ type: "call", seq: i + 1, ack: 0, name, args }));
  await tick();
  const answers = Object.fromEntries(socket.take().filter((m) => m.type !== "ack").map((m) => [m.call, m]));
  assert.equal(answers[1].value, 42);
  assert.equal(answers[2].value, null);
  assert.deepEqual(answers[3].error, { type: "RangeError", message: "no" });
  assert.equal(answers[4].value, "A");
  assert.equal(answers[5].error.type, "TypeError");
  assert.match(answers[5].error.message, /no function missing/);
  // Globals are not callable: only what the page exposed.
  assert.equal(answers[6].error.type, "TypeError");
});

test("a result that is not JSON is sent as an error", async () => {
  const { client, socket } = await opened();
  client.expose("big", () => 10n);
  socket.deliver({ type: "call", seq: 1, ack: 0, name: "big", args: [] });
  await tick();
  const [answer] = socket.take();
  assert.equal(answer.type, "error");
  assert.equal(answer.error.type, "TypeError");
});

test("calls made before the connection wait in the outbox", async () => {
  const { client } = makeClient();
  const answer = client.call("early", 1);
  client.connect();
  const socket = FakeSocket.made.at(-1);
  socket.open();
  assert.deepEqual(socket.take(), [{ type: "hello", v: 1, element: "E1", ack: 0 }]);
  socket.deliver({ type: "welcome", ack: 0 });
  assert.deepEqual(socket.take(), [{ ack: 0, type: "call", name: "early", args: [1], seq: 1 }]);
  socket.deliver({ type: "result", seq: 1, ack: 1, call: 1, value: "done" });
  assert.equal(await answer, "done");
});

test("after a drop the client reconnects and replays only what the server missed", async () => {
  const { client, socket, timers } = await opened();
  const first = client.call("a");
  const second = client.call("b");
  await tick();
  assert.equal(socket.take().length, 2);
  socket.deliver({ type: "call", seq: 1, ack: 1, name: "nothing", args: [] });
  socket.drop();
  assert.equal(client.state, "reconnecting");
  const third = client.call("c");
  await tick();
  assert.equal(timers.length, 1);
  assert.equal(timers[0].ms, 250);
  timers[0].fn();
  const again = FakeSocket.made.at(-1);
  assert.notEqual(again, socket);
  again.open();
  assert.deepEqual(again.take(), [{ type: "hello", v: 1, element: "E1", ack: 1 }]);
  again.deliver({ type: "welcome", ack: 1 });
  const replay = again.take();
  assert.deepEqual(replay.map((m) => [m.type, m.seq, m.name || m.call]), [
    ["call", 2, "b"],
    ["error", 3, 1],
    ["call", 4, "c"],
  ]);
  // The server replays its message 1 (seen already) and answers.
  again.deliver({ type: "call", seq: 1, ack: 1, name: "nothing", args: [] });
  again.deliver({ type: "result", seq: 2, ack: 4, call: 1, value: 1 });
  again.deliver({ type: "result", seq: 3, ack: 4, call: 2, value: 2 });
  again.deliver({ type: "result", seq: 4, ack: 4, call: 4, value: 4 });
  assert.deepEqual([await first, await second, await third], [1, 2, 4]);
  assert.equal(client.outbox.length, 0);
});

test("the pauses between attempts grow and reset once connected", async () => {
  const { client, timers } = makeClient();
  client.connect();
  for (let i = 0; i < 8; i++) {
    FakeSocket.made.at(-1).drop();
    timers.at(-1).fn();
  }
  assert.deepEqual(timers.map((t) => t.ms), [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
  const socket = FakeSocket.made.at(-1);
  socket.open();
  socket.deliver({ type: "welcome", ack: 0 });
  socket.drop();
  assert.equal(timers.at(-1).ms, 250);
});

test("gone: pending calls are rejected and nothing reconnects", async () => {
  const { client, socket, timers } = await opened();
  const states = [];
  client.onstate((s) => states.push(s));
  const answer = client.call("a");
  socket.drop(4404, "the live page expired");
  await assert.rejects(answer, /expired/);
  assert.equal(client.state, "gone");
  assert.deepEqual(states, ["gone"]);
  assert.equal(timers.length, 0);
  await assert.rejects(client.call("b"), /reload/);
});

test("a protocol error from the server ends the conversation", async () => {
  const { client, socket, errors } = await opened();
  const answer = client.call("a");
  await tick();
  socket.deliver({ type: "call", seq: 5, ack: 0, name: "x", args: [] });
  assert.equal(client.state, "failed");
  assert.equal(socket.closedWith, 1000);
  await assert.rejects(answer);
  assert.match(errors.join("\n"), /message 5 arrived after message 0/);
});

test("malformed server messages are protocol errors", async () => {
  for (const bad of ["nope", "[1]", { type: "bogus" }, { type: "ack", ack: 9 }, { type: "result", seq: 1, ack: 0, call: 3, value: 1 }, { type: "call", seq: 1.5, ack: 0 }]) {
    const { client, socket } = await opened();
    socket.deliver(bad);
    assert.equal(client.state, "failed", JSON.stringify(bad));
  }
  const { client, socket } = makeClient();
  client.connect();
  FakeSocket.made.at(-1).open();
  FakeSocket.made.at(-1).deliver({ type: "ack", ack: 0 });
  assert.equal(client.state, "failed");
  assert.equal(socket, undefined);
});

test("calls beyond maxCallsInFlight wait for answers locally", async () => {
  const { client, socket } = await opened({ maxCallsInFlight: 2 });
  const answers = [client.call("a"), client.call("b"), client.call("c")];
  await tick();
  assert.deepEqual(socket.take().map((m) => m.name), ["a", "b"]);
  socket.deliver({ type: "result", seq: 1, ack: 2, call: 1, value: "A" });
  await tick();
  assert.deepEqual(socket.take().map((m) => m.name), ["c"]);
  socket.deliver({ type: "result", seq: 2, ack: 3, call: 2, value: "B" });
  socket.deliver({ type: "result", seq: 3, ack: 3, call: 3, value: "C" });
  assert.deepEqual(await Promise.all(answers), ["A", "B", "C"]);
});

test("a call too big for maxMessageSize is rejected without being sent", async () => {
  const { client, socket } = await opened({ maxMessageSize: 300 });
  await assert.rejects(client.call("a", "x".repeat(400)), RangeError);
  await tick();
  assert.deepEqual(socket.take(), []);
  assert.equal(client.state, "open");
});

test("calls beyond maxQueuedBytes are rejected while the server is away", async () => {
  const { client, socket } = await opened({ maxQueuedBytes: 1000, maxCallsInFlight: 100 });
  socket.drop();
  const refused = [];
  for (let i = 0; i < 20; i++) client.call("a", "x".repeat(100)).catch((e) => refused.push(e.message));
  await tick();
  assert.ok(refused.length > 5, refused);
  assert.match(refused[0], /unreachable or slow/);
  assert.ok(client.queuedBytes < 1200);
});

test("expose needs a function", () => {
  const { client } = makeClient();
  assert.throws(() => client.expose("x", 1), TypeError);
  assert.rejects(client.call(""), TypeError);
});

test("a replaced connection does not reconnect", async () => {
  const { client, socket, timers } = await opened();
  socket.drop(4409, "");
  assert.equal(client.state, "failed");
  assert.equal(timers.length, 0);
});

test("the size limit counts code points as the server does, not UTF-16 units", async () => {
  const { client, socket } = await opened({ maxMessageSize: 1000 });
  client.expose("show", (text) => text.length);
  socket.deliver({ type: "call", seq: 1, ack: 0, name: "show", args: ["\u{1F600}".repeat(450)] });
  assert.equal(client.state, "open");
  socket.deliver({ type: "call", seq: 2, ack: 0, name: "show", args: ["x".repeat(2001)] });
  assert.equal(client.state, "failed");
});
