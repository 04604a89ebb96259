// Audio-call signalling over /audio-call: ring, accept, relay, end; busy; missed; glare; outsiders.
import { check, collect, config, connect, once, run, sleep } from "./lib.mjs";

run(async () => {
  const { consultationId: id, otherConsultationId: otherId, employeeToken, practitionerToken, outsiderToken } = config;
  const employee = await connect("/audio-call", employeeToken);
  const practitioner = await connect("/audio-call", practitionerToken);
  const outsider = await connect("/audio-call", outsiderToken);

  // Ring and accept; the server names the callee and sends ICE servers.
  const incoming = once(practitioner, "call:incoming");
  employee.emit("call:initiate", { consultationId: id });
  const ring = await incoming;
  check(ring.consultationId === id && typeof ring.callerId === "string" && ring.callerName.includes("emma"), `incoming ${JSON.stringify(ring)}`);
  check(Array.isArray(ring.iceServers) && ring.iceServers[0].urls[0] === "stun:stun.test:3478", `ice ${JSON.stringify(ring.iceServers)}`);
  const accepted = once(employee, "call:accepted");
  practitioner.emit("call:accept", { consultationId: id });
  check((await accepted).consultationId === id, "no call:accepted");

  // WebRTC messages go to the other participant only; an outsider's are not relayed.
  const offer = once(practitioner, "webrtc:offer");
  employee.emit("webrtc:offer", { consultationId: id, offer: { type: "offer", sdp: "v=0" } });
  check((await offer).offer.sdp === "v=0", "offer not relayed");
  const answer = once(employee, "webrtc:answer");
  practitioner.emit("webrtc:answer", { consultationId: id, answer: { type: "answer", sdp: "v=0" } });
  await answer;
  const candidate = once(practitioner, "webrtc:ice-candidate");
  employee.emit("webrtc:ice-candidate", { consultationId: id, candidate: { candidate: "candidate:1" } });
  await candidate;
  const intruded = collect(practitioner, "webrtc:offer", 700);
  const intrudedToo = collect(employee, "webrtc:offer", 700);
  outsider.emit("webrtc:offer", { consultationId: id, offer: { type: "offer", sdp: "evil" } });
  check((await intruded).length === 0 && (await intrudedToo).length === 0, "an outsider's offer was relayed");

  // The practitioner is in a call: another caller hears busy.
  const busy = once(outsider, "call:busy");
  outsider.emit("call:initiate", { consultationId: otherId });
  check((await busy).consultationId === otherId, "no call:busy");
  // An outsider cannot ring into someone else's consultation.
  const refused = once(outsider, "call:error");
  outsider.emit("call:initiate", { consultationId: id });
  check((await refused).code === "consultation.not_found", "outsider call not refused");

  const ended = once(practitioner, "call:ended");
  employee.emit("call:end", { consultationId: id });
  await ended;

  // Unanswered: both sides get call:missed after the ring time.
  const missedCaller = once(employee, "call:missed", 6000);
  const missedCallee = once(practitioner, "call:missed", 6000);
  employee.emit("call:initiate", { consultationId: id });
  await Promise.all([missedCaller, missedCallee]);

  // Rejected.
  const ringing = once(practitioner, "call:incoming");
  employee.emit("call:initiate", { consultationId: id });
  await ringing;
  const rejected = once(employee, "call:rejected");
  practitioner.emit("call:reject", { consultationId: id });
  await rejected;

  // Glare: both call at once; one call connects and both sides learn it.
  const bothAccepted = Promise.all([once(employee, "call:accepted"), once(practitioner, "call:accepted")]);
  employee.emit("call:initiate", { consultationId: id });
  practitioner.emit("call:initiate", { consultationId: id });
  await bothAccepted;
  const over = once(employee, "call:ended");
  practitioner.emit("call:end", { consultationId: id });
  await over;

  for (const s of [employee, practitioner, outsider]) s.close();
  await sleep(100);
});
