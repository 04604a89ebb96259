// Small helpers around the official socket.io-client for the realtime scenarios.
import { io } from "socket.io-client";

export const config = JSON.parse(process.env.HZ ?? "{}");

export function connect(namespace, token, { url = config.url, ...options } = {}) {
  const socket = io(`${url}${namespace}`, {
    auth: token === undefined ? undefined : { token },
    transports: options.transports ?? ["websocket"],
    reconnection: false,
    forceNew: true,
    ...options,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connect ${namespace} timed out`)), 5000);
    socket.once("connect", () => { clearTimeout(timer); resolve(socket); });
    socket.once("connect_error", (error) => { clearTimeout(timer); socket.close(); reject(error); });
  });
}

export function once(socket, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (...args) => { clearTimeout(timer); resolve(args.length > 1 ? args : args[0]); });
  });
}

/// Resolves with every `event` received during `ms`.
export function collect(socket, event, ms) {
  const seen = [];
  const listener = (payload) => seen.push(payload);
  socket.on(event, listener);
  return new Promise((resolve) => setTimeout(() => { socket.off(event, listener); resolve(seen); }, ms));
}

export function ack(socket, event, payload, ms = 10000) {
  return socket.timeout(ms).emitWithAck(event, payload);
}

export async function rest(method, path, token, body, url = config.url) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export async function run(scenario) {
  try {
    await scenario();
    console.log("ok");
    process.exit(0);
  } catch (error) {
    console.error(error?.stack ?? String(error));
    process.exit(1);
  }
}
