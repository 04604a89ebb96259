// Chat between an employee and a practitioner over /chat, as browsers would do it.
import { ack, check, collect, config, connect, once, rest, run, sleep } from "./lib.mjs";

run(async () => {
  const { consultationId: id, employeeToken, practitionerToken, outsiderToken } = config;

  // Refused handshakes.
  for (const token of [undefined, "not-a-token"]) {
    let refused = false;
    try { await connect("/chat", token); } catch { refused = true; }
    check(refused, `connect with ${token} was accepted`);
  }

  // Presence: the employee sees the practitioner come online.
  const employee = await connect("/chat", employeeToken);
  const online = once(employee, "presence:update");
  const practitioner = await connect("/chat", practitionerToken);
  const presence = await online;
  check(presence.online === true, `presence ${JSON.stringify(presence)}`);

  // An outsider cannot join the consultation's room.
  const outsider = await connect("/chat", outsiderToken);
  const refusal = once(outsider, "chat:error");
  outsider.emit("chat:join", { consultationId: id });
  check((await refusal).code === "consultation.not_found", "outsider join not refused");
  const outsiderHeard = collect(outsider, "chat:message:received", 3000);

  const history = once(employee, "chat:history");
  employee.emit("chat:join", { consultationId: id });
  const [messages, page] = await history;
  check(Array.isArray(messages), "chat:history is not a list");
  check(page && typeof page.hasMore === "boolean", `chat:history came without its page: ${JSON.stringify(page)}`);
  const practitionerHistory = once(practitioner, "chat:history");
  practitioner.emit("chat:join", { consultationId: id });
  await practitionerHistory;

  // A message: acknowledged after storage, retries idempotent (stored once; a retry is announced
  // again, with the same id, in case the first try died between commit and broadcast).
  const received = collect(practitioner, "chat:message:received", 3000);
  const aliasReceived = collect(practitioner, "message:received", 3000);
  const first = await ack(employee, "chat:message", { consultationId: id, content: "Bonjour", clientMessageId: "m-1" });
  check(first.ok === true && first.message.content === "Bonjour", `ack ${JSON.stringify(first)}`);
  const retry = await ack(employee, "message:send", { consultationId: id, content: "Bonjour", clientMessageId: "m-1" });
  check(retry.ok && retry.message.id === first.message.id, "retry stored a second message");
  const got = await received;
  check(got.length === 2 && got.every((m) => m.id === first.message.id), `broadcasts: ${JSON.stringify(got)}`);
  check(new Set(got.map((m) => m.seq)).size === 1, "a retry took a second position");
  check((await aliasReceived).length === 2, "message:received alias not emitted with each announcement");
  check((await outsiderHeard).length === 0, "the outsider heard the conversation");

  // Typing and read receipts.
  const typing = once(employee, "chat:typing");
  practitioner.emit("chat:typing", { consultationId: id, isTyping: true });
  const typed = await typing;
  check(typed.isTyping === true && typeof typed.userId === "string", `typing ${JSON.stringify(typed)}`);
  const receipt = once(employee, "chat:message:read");
  practitioner.emit("chat:read", { messageId: first.message.id });
  const read = await receipt;
  check(read.messageId === first.message.id && read.readAt, `receipt ${JSON.stringify(read)}`);

  // Dropped, then back: what was missed is replayed with `since`.
  employee.disconnect();
  const offline = await once(practitioner, "presence:update");
  check(offline.online === false, `offline ${JSON.stringify(offline)}`);
  for (const content of ["missed 1", "missed 2"]) {
    const sent = await ack(practitioner, "chat:message", { consultationId: id, content });
    check(sent.ok, "practitioner send failed");
  }
  const sentByRest = await rest("POST", `/api/chat/${id}/messages`, practitionerToken, { content: "missed 3" });
  check(sentByRest.status === 201, `REST send ${sentByRest.status}`);
  const back = await connect("/chat", employeeToken);
  const replay = once(back, "chat:history");
  back.emit("chat:join", { consultationId: id, since: first.message.id });
  const [missed, replayPage] = await replay;
  check(replayPage.hasMore === false && replayPage.cursor === missed[2]?.id, `replay page ${JSON.stringify(replayPage)}`);
  check(JSON.stringify(missed.map((m) => m.content)) === JSON.stringify(["missed 1", "missed 2", "missed 3"]), `replay ${JSON.stringify(missed)}`);

  // A REST message reaches sockets too.
  const live = once(back, "chat:message:received");
  await rest("POST", `/api/chat/${id}/messages`, practitionerToken, { content: "via REST" });
  check((await live).content === "via REST", "REST message not pushed");

  // Refusals arrive in the ack.
  const refused = await ack(outsider, "chat:message", { consultationId: id, content: "intrusion" });
  check(refused.ok === false, "outsider message accepted");
  check(refused.error?.code === "consultation.not_found", `the ack names the refusal: ${JSON.stringify(refused)}`);

  for (const s of [back, practitioner, outsider]) s.close();
  await sleep(100);
});
