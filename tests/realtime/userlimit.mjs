// One user, twenty sockets spread over two nodes (Redis adapter), two hundred messages at once:
// the per-user budget (30 events a second) holds across the sockets and the nodes. Everything past
// it is refused `rate_limited`; what was accepted is what is stored.
import { ack, check, config, connect, run, sleep } from "./lib.mjs";

const { consultationId: id } = config;
const SOCKETS = 20;
const PER_SOCKET = 10;

run(async () => {
  const sockets = await Promise.all(
    Array.from({ length: SOCKETS }, (_, i) =>
      connect("/chat", config.employeeToken, { url: i % 2 ? config.urlB : config.urlA })),
  );
  const sends = [];
  sockets.forEach((s, i) => {
    for (let k = 0; k < PER_SOCKET; k++) {
      sends.push(ack(s, "chat:message", { consultationId: id, content: `burst ${i}-${k}`, clientMessageId: `burst-${i}-${k}` }, 15000));
    }
  });
  const answers = await Promise.all(sends);
  const accepted = answers.filter((a) => a.ok === true).length;
  const limited = answers.filter((a) => a.ok === false && a.error?.code === "rate_limited").length;
  check(accepted >= 1, "nothing was accepted");
  // The burst may straddle two one-second windows: at most two budgets.
  check(accepted <= 60, `${accepted} of ${answers.length} accepted: the per-user budget did not hold`);
  check(accepted + limited === answers.length,
    `other refusals: ${JSON.stringify(answers.filter((a) => a.ok === false && a.error?.code !== "rate_limited").slice(0, 3))}`);
  console.log(`accepted ${accepted}, rate_limited ${limited}`);
  console.log(JSON.stringify({ accepted }));
  for (const s of sockets) s.close();
  await sleep(100);
});
