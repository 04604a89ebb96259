// Chaos (issue 21): both participants send and read while the server is killed with SIGKILL and
// restarted, and PostgreSQL is killed under it (the test driving this script does the killing and
// creates `doneFile` when it has finished). Sockets reconnect by themselves and rejoin with their
// contiguous cursor; a send is retried with the same clientMessageId until it is acknowledged.
// At the end every acknowledged message must have reached both participants, each once, with one
// position (seq) for everyone, and positions without gaps or doubles.
import { existsSync } from "node:fs";
import { io } from "socket.io-client";
import { check, config, run, sleep } from "./lib.mjs";

const { url, consultationId: id, employeeToken, practitionerToken, doneFile } = config;
const sendEveryMs = config.sendEveryMs ?? 60;

function participant(name, token) {
  const me = { name, seen: new Map(), ahead: new Map(), cursor: null, joins: 0, acked: [], retries: 0,
               reconnects: 0, caughtUp: null };
  const socket = io(`${url}/chat`, {
    auth: { token },
    transports: ["websocket"],
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0.3,
    forceNew: true,
  });
  me.socket = socket;
  const take = (m) => {
    if (m.consultationId !== id) return;
    const before = me.seen.get(m.id);
    check(before === undefined || before === m.seq, `${name}: message ${m.id} came with two positions`);
    me.seen.set(m.id, m.seq);
    me.ahead.set(m.seq, m.id);
    advance();
  };
  const advance = () => {
    if (!me.cursor) return;
    while (me.ahead.has(me.cursor.seq + 1)) {
      const seq = me.cursor.seq + 1;
      me.cursor = { id: me.ahead.get(seq), seq };
      me.ahead.delete(seq);
    }
  };
  let settle = () => {};
  me.join = () => {
    me.joins++;
    me.caughtUp = new Promise((resolve) => { settle = resolve; });
    socket.emit("chat:join", me.cursor
      ? { consultationId: id, since: me.cursor.id, sinceSeq: me.cursor.seq }
      : { consultationId: id });
    return me.caughtUp;
  };
  socket.on("chat:history", (messages, page) => {
    for (const m of messages) take(m);
    if (page?.cursorSeq != null && (!me.cursor || page.cursorSeq > me.cursor.seq)) {
      me.cursor = { id: page.cursor, seq: page.cursorSeq };
    }
    advance();
    if (page?.hasMore) me.join(); else settle();
  });
  socket.on("chat:message:received", take);
  socket.on("connect", () => { me.reconnects++; me.join(); });
  me.send = async (n) => {
    const clientMessageId = `${name}-${n}`;
    for (let attempt = 0; ; attempt++) {
      check(attempt < 600, `${name}: message ${n} never acknowledged`);
      if (attempt > 0) { me.retries++; await sleep(100); }
      if (!socket.connected) continue;
      let answer;
      try {
        answer = await socket.timeout(2000).emitWithAck("chat:message",
          { consultationId: id, content: `${name} ${n}`, clientMessageId });
      } catch {
        continue; // no answer (the server died): send it again
      }
      if (answer?.ok === true) { me.acked.push(answer.message); take(answer.message); return; }
      // service.unavailable while PostgreSQL restarts, rate_limited: retryable
    }
  };
  return me;
}

run(async () => {
  const people = [participant("employee", employeeToken), participant("practitioner", practitionerToken)];
  const senders = people.map(async (me) => {
    for (let n = 0; !existsSync(doneFile); n++) {
      await me.send(n);
      await sleep(sendEveryMs * (0.5 + Math.random()));
    }
  });
  await Promise.all(senders);
  // The faults are over: everyone rejoins once more and catches up to the end.
  for (const me of people) {
    const deadline = Date.now() + 30000;
    while (!me.socket.connected) { check(Date.now() < deadline, `${me.name} never reconnected`); await sleep(100); }
    await Promise.race([me.join(), sleep(15000).then(() => { throw new Error(`${me.name}: last join unanswered`); })]);
  }
  const acked = people.flatMap((me) => me.acked);
  const ids = new Set(acked.map((m) => m.id));
  check(ids.size === acked.length, "one acknowledged send was stored as two messages, or acked twice");
  for (const me of people) {
    const missing = acked.filter((m) => !me.seen.has(m.id));
    check(missing.length === 0, `${missing.length} of ${acked.length} acknowledged messages never reached the ${me.name}`);
    for (const m of acked) {
      check(me.seen.get(m.id) === m.seq, `${me.name} saw ${m.id} at ${me.seen.get(m.id)}, acked at ${m.seq}`);
    }
  }
  const seqs = acked.map((m) => m.seq).sort((a, b) => a - b);
  check(new Set(seqs).size === seqs.length, "two messages share a position");
  check(seqs[seqs.length - 1] - seqs[0] === seqs.length - 1, "positions have gaps");
  console.log(JSON.stringify({
    acked: acked.length,
    retries: people.reduce((a, me) => a + me.retries, 0),
    reconnects: people.reduce((a, me) => a + me.reconnects, 0),
    joins: people.reduce((a, me) => a + me.joins, 0),
  }));
  for (const me of people) me.socket.close();
});
