// Ending logins ends their sockets at once: one login ended from another, "sign out everywhere
// else", and a suspension by HR. The sockets of the logins that stay are left alone.
import { check, config, connect, once, rest, run, sleep } from "./lib.mjs";

run(async () => {
  const { tokenA, tokenB, tokenC, hrToken, employeeUserId, password } = config;
  const a1 = await connect("/chat", tokenA);
  const a2 = await connect("/notifications", tokenA);
  const b1 = await connect("/notifications", tokenB);

  // From login B, end login A: both of A's sockets drop, B's stays.
  const listed = await rest("GET", "/api/me/sessions", tokenB);
  check(listed.status === 200, `sessions ${listed.status}`);
  const others = listed.body.items.filter((s) => !s.current);
  check(others.length === 2, `other logins: ${JSON.stringify(listed.body.items)}`);
  const dropped = Promise.all([once(a1, "disconnect", 5000), once(a2, "disconnect", 5000)]);
  // Login A is the oldest of the others (the items come newest first or oldest first: pick by time).
  const a = others.reduce((x, y) => (x.createdAt <= y.createdAt ? x : y));
  const ended = await rest("DELETE", `/api/me/sessions/${a.id}`, tokenB);
  check(ended.status === 204, `end one login ${ended.status} ${JSON.stringify(ended.body)}`);
  await dropped;
  await sleep(300);
  check(b1.connected, "the socket of the login that stays was dropped");
  let refused = false;
  try { await connect("/chat", tokenA); } catch { refused = true; }
  check(refused, "an ended login connected again");

  // Sign out everywhere else: C's socket drops, B's stays.
  const c1 = await connect("/chat", tokenC);
  const droppedC = once(c1, "disconnect", 5000);
  const all = await rest("DELETE", "/api/me/sessions", tokenB);
  check(all.status === 204, `end other logins ${all.status} ${JSON.stringify(all.body)}`);
  await droppedC;
  await sleep(300);
  check(b1.connected, "the current login's socket was dropped by signing out the others");

  // HR suspends the employee: the last socket drops and nothing reconnects.
  const droppedB = once(b1, "disconnect", 5000);
  const suspended = await rest("POST", `/api/accounts/${employeeUserId}/suspend`, hrToken,
    { reason: "left the company", currentPassword: password });
  check(suspended.status === 200, `suspend ${suspended.status} ${JSON.stringify(suspended.body)}`);
  await droppedB;
  refused = false;
  try { await connect("/notifications", tokenB); } catch { refused = true; }
  check(refused, "a suspended account connected again");
});
