// A flood of messages from many sockets at once against a small pool: the events past the waiting
// bound are refused at once (`chat:error` service.unavailable, `ok: false` in the ack) instead of
// queueing for the pool's acquire timeout; every other one is stored; a refused message sent again
// with its clientMessageId is stored once.
import { ack, check, config, connect, run, sleep } from "./lib.mjs";

const { consultationId: id } = config;
const SOCKETS = 50;
const PER_SOCKET = 8;

run(async () => {
  const sockets = await Promise.all(
    Array.from({ length: SOCKETS }, (_, i) => connect("/chat", i % 2 ? config.employeeToken : config.practitionerToken)),
  );
  const errors = new Map(sockets.map((s) => [s, []]));
  for (const s of sockets) s.on("chat:error", (error) => errors.get(s).push(error.code));

  const send = (s, key) => ack(s, "chat:message", { consultationId: id, content: `flood ${key}`, clientMessageId: `flood-${key}` }, 15000);
  const attempts = [];
  sockets.forEach((s, i) => {
    for (let k = 0; k < PER_SOCKET; k++) attempts.push(send(s, `${i}-${k}`).then((answer) => ({ s, key: `${i}-${k}`, answer })));
  });
  const results = await Promise.all(attempts);
  const refused = results.filter((r) => r.answer.ok === false);
  check(refused.length > 0, `all ${results.length} events were admitted: the bound was never reached`);
  check(refused.length < results.length, "every event was refused");
  check(refused.every((r) => r.answer.error?.code === "service.unavailable"),
    `acks of refusals: ${JSON.stringify([...new Set(refused.map((r) => r.answer.error?.code))])}`);
  const codes = [...errors.values()].flat();
  check(codes.length === refused.length && codes.every((code) => code === "service.unavailable"),
    `refusals: ${refused.length}, chat:error codes: ${JSON.stringify([...new Set(codes)])} (${codes.length})`);

  await sleep(1100); // a new second of each socket's event budget
  for (const { s, key } of refused) {
    const again = await send(s, key);
    check(again.ok === true, `resending ${key}: ${JSON.stringify(again)}`);
  }
  console.log(`refused at once: ${refused.length} of ${results.length}`);
  for (const s of sockets) s.close();
  await sleep(100);
});
