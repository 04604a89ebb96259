// Through nginx (deploy/nginx) in front of two replicas: HTTP→HTTPS redirect, HSTS, a chat between
// a client placed on replica A and one placed on replica B (placement read from each replica's
// /metrics), body-size cap and the sign-in rate limit.
import http from "node:http";
import https from "node:https";
import { ack, check, config, connect, once, run } from "./lib.mjs";

const { url, httpUrl, urlA, urlB, consultationId: id, password } = config;

function request(method, target, body, localAddress, extraHeaders = {}) {
  const client = target.startsWith("https:") ? https : http;
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = client.request(target, {
      method, localAddress, rejectUnauthorized: false,
      headers: {
        ...extraHeaders,
        ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
      },
    }, (res) => {
      let text = "";
      res.on("data", (chunk) => { text += chunk; });
      res.on("end", () => {
        let parsed = text;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed });
      });
    });
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

async function socketsOn(node) {
  const metrics = await request("GET", `${node}/metrics`, undefined, undefined, { authorization: "Bearer test-metrics-token" });
  check(typeof metrics.body === "string", `metrics of ${node}: ${metrics.status} ${JSON.stringify(metrics.body)}`);
  const line = metrics.body.split("\n").find((l) => l.startsWith("socketio_connected_sockets"));
  return Number(line.split(" ")[1]);
}

const placement = async () => [await socketsOn(urlA), await socketsOn(urlB)];
const via = (localAddress) => ({ url, localAddress, rejectUnauthorized: false });

run(async () => {
  const redirect = await request("GET", `${httpUrl}/api/ready`);
  check(redirect.status === 301 && redirect.headers.location?.startsWith("https://"), `redirect ${redirect.status} ${redirect.headers.location}`);
  const ready = await request("GET", `${url}/api/ready`);
  check(ready.status === 200, `ready through nginx: ${ready.status}`);
  check(/max-age=\d+/.test(ready.headers["strict-transport-security"] ?? ""), "no HSTS header");
  check(ready.headers["x-content-type-options"] === "nosniff", `nosniff header: ${ready.headers["x-content-type-options"]}`);
  check(ready.headers["referrer-policy"] === "no-referrer", `referrer policy: ${ready.headers["referrer-policy"]}`);
  check(ready.headers["cache-control"] === "no-store", `cache control: ${ready.headers["cache-control"]}`);
  // nginx's request id ($request_id: 32 hex digits) reaches the API, which echoes it, on the
  // Socket.IO location as on the others (a location's own proxy_set_header drops the inherited ones).
  const nginxId = /^[0-9a-f]{32}$/;
  check(nginxId.test(ready.headers["x-request-id"] ?? ""), `API request id: ${ready.headers["x-request-id"]}`);
  const handshake = await request("GET", `${url}/socket.io/?EIO=4&transport=polling`);
  check(handshake.status === 200, `polling handshake through nginx: ${handshake.status}`);
  check(nginxId.test(handshake.headers["x-request-id"] ?? ""), `Socket.IO request id: ${handshake.headers["x-request-id"]}`);

  const login = async (email, from) => {
    const response = await request("POST", `${url}/api/auth/login`, { email, password }, from);
    check(response.status === 200, `login ${email}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.accessToken;
  };
  const employeeToken = await login(config.employeeEmail, "127.0.0.2");
  const practitionerToken = await login(config.practitionerEmail, "127.0.0.3");

  const employee = await connect("/chat", employeeToken, via("127.0.0.2"));
  const [a0, b0] = await placement();
  check(a0 + b0 === 1, `one socket expected, found ${a0} + ${b0}`);
  // Find a client address that nginx sends to the other replica.
  let practitioner = null;
  for (let host = 3; host < 60 && !practitioner; host++) {
    const candidate = await connect("/chat", practitionerToken, via(`127.0.0.${host}`));
    const [a, b] = await placement();
    if (a === 1 && b === 1) practitioner = candidate;
    else {
      candidate.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  check(practitioner, "nginx never placed the second client on the other replica");

  for (const socket of [employee, practitioner]) {
    const history = once(socket, "chat:history");
    socket.emit("chat:join", { consultationId: id });
    await history;
  }
  const received = once(practitioner, "chat:message:received");
  const sent = await ack(employee, "chat:message", { consultationId: id, content: "Bonjour à travers nginx" });
  check(sent.ok, `ack ${JSON.stringify(sent)}`);
  check((await received).id === sent.message.id, "the message did not cross replicas");
  const reply = once(employee, "chat:message:received");
  await ack(practitioner, "chat:message", { consultationId: id, content: "Bien reçu" });
  check((await reply).content === "Bien reçu", "the reply did not cross replicas");
  employee.close();
  practitioner.close();

  // Bodies over the API's 1 MiB JSON limit stop at the edge.
  const big = JSON.stringify({ content: "x".repeat(2 * 1024 * 1024) });
  const tooBig = await request("POST", `${url}/api/journal`, big, "127.0.0.70");
  check(tooBig.status === 413, `2 MiB body: ${tooBig.status}`);

  // /api/auth/ is rate-limited per address at the edge.
  const burst = await Promise.all(Array.from({ length: 60 }, () =>
    request("POST", `${url}/api/auth/refresh`, { refreshToken: "nope" }, "127.0.0.80")));
  const limited = burst.filter((r) => r.status === 429).length;
  check(limited > 0, `no 429 among ${burst.map((r) => r.status).join(",")}`);
});
