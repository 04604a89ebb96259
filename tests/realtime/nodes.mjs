// Two `huntzen serve` nodes sharing PostgreSQL and Redis: the employee is connected to node A, the
// practitioner to node B. Chat, presence, read receipts, REST pushes and a call cross between them.
import { ack, check, collect, config, connect, once, rest, run } from "./lib.mjs";

run(async () => {
  const { consultationId: id, employeeToken, practitionerToken, outsiderToken, urlA, urlB } = config;

  const employee = await connect("/chat", employeeToken, { url: urlA });
  const online = once(employee, "presence:update");
  const practitioner = await connect("/chat", practitionerToken, { url: urlB });
  const presence = await online;
  check(presence.online === true, `presence across nodes: ${JSON.stringify(presence)}`);

  const outsider = await connect("/chat", outsiderToken, { url: urlB });
  const outsiderHeard = collect(outsider, "chat:message:received", 3000);

  for (const [socket, name] of [[employee, "employee"], [practitioner, "practitioner"]]) {
    const history = once(socket, "chat:history");
    socket.emit("chat:join", { consultationId: id });
    const [messages] = await history;
    check(Array.isArray(messages), `${name} got no history`);
  }

  // A → B over Socket.IO, once.
  const received = collect(practitioner, "chat:message:received", 3000);
  const sent = await ack(employee, "chat:message", { consultationId: id, content: "Bonjour depuis A", clientMessageId: "n-1" });
  check(sent.ok, `ack ${JSON.stringify(sent)}`);
  const got = await received;
  check(got.length === 1 && got[0].id === sent.message.id, `B received ${JSON.stringify(got)}`);

  // B → A, and the read receipt back to B.
  const reply = once(employee, "chat:message:received");
  const answer = await ack(practitioner, "chat:message", { consultationId: id, content: "Bien reçu sur B" });
  check((await reply).id === answer.message.id, "A did not receive B's message");
  const receipt = once(practitioner, "chat:message:read");
  employee.emit("chat:read", { messageId: answer.message.id });
  check((await receipt).messageId === answer.message.id, "read receipt did not cross");

  // A REST message posted on node B reaches the employee's socket on node A.
  const pushed = once(employee, "chat:message:received");
  const viaRest = await rest("POST", `/api/chat/${id}/messages`, practitionerToken, { content: "REST sur B" }, urlB);
  check(viaRest.status === 201, `REST ${viaRest.status}`);
  check((await pushed).content === "REST sur B", "REST message on B not pushed to A");
  check((await outsiderHeard).length === 0, "the outsider heard the conversation");

  // An audio call: caller on A, callee on B.
  const caller = await connect("/audio-call", employeeToken, { url: urlA });
  const callee = await connect("/audio-call", practitionerToken, { url: urlB });
  const incoming = once(callee, "call:incoming");
  caller.emit("call:initiate", { consultationId: id });
  check((await incoming).consultationId === id, "no call:incoming on B");
  const accepted = once(caller, "call:accepted");
  callee.emit("call:accept", { consultationId: id });
  check((await accepted).consultationId === id, "no call:accepted on A");
  const offer = once(callee, "webrtc:offer");
  caller.emit("webrtc:offer", { consultationId: id, offer: { type: "offer", sdp: "v=0" } });
  check((await offer).offer.sdp === "v=0", "offer not relayed A → B");
  const candidate = once(caller, "webrtc:ice-candidate");
  callee.emit("webrtc:ice-candidate", { consultationId: id, candidate: { candidate: "candidate:1" } });
  check((await candidate).candidate.candidate === "candidate:1", "candidate not relayed B → A");
  const ended = once(caller, "call:ended");
  callee.emit("call:end", { consultationId: id });
  check((await ended).consultationId === id, "no call:ended on A");

  // The employee leaves node A: the practitioner on B sees them go offline.
  const offline = once(practitioner, "presence:update");
  employee.disconnect();
  caller.disconnect();
  check((await offline).online === false, "offline presence did not cross");

  for (const socket of [practitioner, outsider, callee]) socket.close();
});
