// Live notifications and session end over Socket.IO.
import { check, config, connect, once, rest, run } from "./lib.mjs";

run(async () => {
  const { consultationId: id, employeeToken, practitionerToken, employeeRefreshToken } = config;
  // Browsers' origins are checked against CORS_ORIGINS (the tests allow http://allowed.example).
  let foreign = false;
  try { await connect("/notifications", employeeToken, { extraHeaders: { origin: "http://evil.example" } }); } catch { foreign = true; }
  check(foreign, "a foreign origin connected");
  const allowed = await connect("/notifications", employeeToken, { extraHeaders: { origin: "http://allowed.example" } });
  allowed.close();

  // Events beyond the per-second budget are refused.
  const chat = await connect("/chat", employeeToken);
  const codes = new Set();
  chat.on("chat:error", (e) => codes.add(e.code));
  for (let i = 0; i < 60; i++) chat.emit("chat:join", { consultationId: id });
  await new Promise((r) => setTimeout(r, 1000));
  check(codes.has("rate_limited"), `no rate limit among ${[...codes]}`);
  chat.close();

  const employee = await connect("/notifications", employeeToken, { transports: ["polling", "websocket"] });
  const pushed = once(employee, "notification:new");
  const confirmed = await rest("PUT", `/api/consultations/${id}/confirm`, practitionerToken);
  check(confirmed.status === 200, `confirm ${confirmed.status}`);
  const notification = await pushed;
  check(notification.type === "CONSULTATION_CONFIRMED" && notification.id, `pushed ${JSON.stringify(notification)}`);

  // Logging out ends the socket too.
  const dropped = once(employee, "disconnect", 8000);
  const out = await fetch(`${config.url}/api/auth/logout`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refreshToken: employeeRefreshToken }),
  });
  check(out.status === 204, `logout ${out.status}`);
  await dropped;
  let refused = false;
  try { await connect("/notifications", employeeToken); } catch { refused = true; }
  check(refused, "an ended session connected again");
});
