// Delivery that cannot skip (issue 21): every acknowledged message reaches the reader, live or on
// its next join, in one order (by `seq`), while the reader reconnects at random during a stream
// of sends; a replay longer than a page comes in pages (`hasMore`); a resend of a stored message
// is announced again.
import { ack, check, config, connect, once, run, sleep } from "./lib.mjs";

const { consultationId: id, employeeToken, practitionerToken } = config;

// A reader that keeps the contiguous cursor the /room page keeps.
function reader() {
  const state = { seen: new Map(), cursor: null, ahead: new Map(), socket: null, joins: 0 };
  const take = (m) => {
    if (m.consultationId !== id) return;
    const before = state.seen.get(m.id);
    check(!before || before === m.seq, `message ${m.id} came with two positions`);
    state.seen.set(m.id, m.seq);
    state.ahead.set(m.seq, m.id);
    advance();
  };
  const advance = () => {
    if (!state.cursor) return;
    while (state.ahead.has(state.cursor.seq + 1)) {
      const seq = state.cursor.seq + 1;
      state.cursor = { id: state.ahead.get(seq), seq };
      state.ahead.delete(seq);
    }
  };
  const join = () => {
    state.joins++;
    state.socket.emit("chat:join", state.cursor
      ? { consultationId: id, since: state.cursor.id, sinceSeq: state.cursor.seq }
      : { consultationId: id });
  };
  state.open = async () => {
    state.socket = await connect("/chat", practitionerToken);
    state.caughtUp = new Promise((resolve) => {
      state.socket.on("chat:history", (messages, page) => {
        for (const m of messages) take(m);
        if (page?.cursorSeq != null && (!state.cursor || page.cursorSeq > state.cursor.seq)) {
          state.cursor = { id: page.cursor, seq: page.cursorSeq };
        }
        advance();
        if (page?.hasMore) join(); else resolve();
      });
    });
    state.socket.on("chat:message:received", take);
    join();
    await state.caughtUp;
  };
  return state;
}

run(async () => {
  const sender = await connect("/chat", employeeToken);
  await ack(sender, "chat:join", { consultationId: id });

  // 1. A stream of sends, several in flight at once, while the reader drops and rejoins.
  const r = reader();
  await r.open();
  const acked = [];
  let sending = true;
  const stream = (async () => {
    for (let batch = 0; batch < 30; batch++) {
      const answers = await Promise.all(Array.from({ length: 10 }, (_, k) =>
        ack(sender, "chat:message", { consultationId: id, content: `m ${batch}-${k}`, clientMessageId: `s-${batch}-${k}` })));
      for (const a of answers) { check(a.ok === true, `send refused: ${JSON.stringify(a)}`); acked.push(a.message); }
    }
    sending = false;
  })();
  while (sending) {
    await sleep(20 + Math.random() * 60);
    r.socket.disconnect();
    await sleep(Math.random() * 40);
    await r.open();
  }
  await stream;
  await sleep(300);
  r.socket.disconnect();
  await r.open(); // a last join picks up what the last live window missed, if anything
  const missing = acked.filter((m) => !r.seen.has(m.id));
  check(missing.length === 0, `${missing.length} of ${acked.length} acked messages never reached the reader (${r.joins} joins)`);
  const seqs = acked.map((m) => m.seq).sort((a, b) => a - b);
  check(new Set(seqs).size === seqs.length, "two messages share a position");
  check(seqs[seqs.length - 1] - seqs[0] === seqs.length - 1, "positions have gaps");
  check(r.cursor.seq === seqs[seqs.length - 1], `cursor ${r.cursor.seq} short of ${seqs[seqs.length - 1]}`);
  r.socket.disconnect();

  // 2. 450 more while the reader is away: it comes back in pages, every message once, in order.
  const from = r.cursor;
  for (let batch = 0; batch < 45; batch++) {
    await Promise.all(Array.from({ length: 10 }, (_, k) =>
      ack(sender, "chat:message", { consultationId: id, content: `away ${batch}-${k}`, clientMessageId: `a-${batch}-${k}` })));
  }
  const back = await connect("/chat", practitionerToken);
  const pages = [];
  let cursor = from;
  for (;;) {
    const answer = await ack(back, "chat:join", { consultationId: id, since: cursor.id });
    check(answer.ok === true, `join refused: ${JSON.stringify(answer)}`);
    pages.push(answer.messages.length);
    for (const [i, m] of answer.messages.entries()) check(m.seq === cursor.seq + 1 + i, "a replay page is not in order");
    cursor = { id: answer.cursor, seq: answer.cursorSeq };
    if (!answer.hasMore) break;
  }
  check(pages.reduce((a, b) => a + b, 0) === 450, `replayed ${pages.join("+")}`);
  check(pages.length >= 3, `one page held ${pages[0]}: the replay was not paged`);

  // 3. A resend of a stored message is stored once and announced again.
  const again = once(back, "chat:message:received", 5000);
  const first = acked[0];
  const resent = await ack(sender, "chat:message", { consultationId: id, content: "m 0-0", clientMessageId: first.clientMessageId });
  check(resent.ok === true && resent.message.id === first.id, `resend answered ${JSON.stringify(resent)}`);
  const announced = await again;
  check(announced.id === first.id, "the resend was not announced");
  console.log(JSON.stringify({ acked: acked.length, joins: r.joins, pages }));
  back.close();
  sender.close();
});
