// The /room page in headless Chromium: an employee and a practitioner sign in, chat both ways (with
// read receipts and replay after a drop), make a real WebRTC audio call over loopback (fake
// microphone), hang up; another employee cannot get in. Screenshots go to config.artifacts.
import { chromium } from "playwright-core";

const config = JSON.parse(process.env.HZ ?? "{}");
const { url, consultationId: id, password, artifacts } = config;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-domain-reliability", "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
  ],
});

async function signIn(email) {
  const context = await browser.newContext({ permissions: ["microphone"], locale: "fr-FR" });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`[${email}] page error: ${error.message}`));
  await page.goto(`${url}/room`);
  // Crisis lines are on the page before anyone signs in (GET /api/resources/crisis, public).
  await page.waitForSelector('#crisis-lines a[href="tel:3114"]', { timeout: 10000 });
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#list-view:not([hidden])");
  return page;
}

async function openRoom(page) {
  await page.click(`a[href="#/consultation/${id}"]`);
  await page.waitForSelector("#room-view:not([hidden])");
  await page.waitForFunction(() => window.huntzenRoom.chat?.connected === true);
}

async function send(page, text) {
  await page.fill("#chat-input", text);
  await page.press("#chat-input", "Enter");
}

const theirMessage = (page, text) =>
  page.waitForSelector(`#messages li.theirs .content:text-is("${text}")`, { timeout: 10000 });

async function inboundPackets(page) {
  return page.evaluate(async () => {
    const stats = await window.huntzenRoom.pc.getStats();
    let packets = 0;
    stats.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "audio") packets += s.packetsReceived; });
    return packets;
  });
}

try {
  const employee = await signIn(config.employeeEmail);
  const practitioner = await signIn(config.practitionerEmail);
  await openRoom(employee);
  await openRoom(practitioner);

  // Chat both ways, typing, read receipt.
  // Typed again until it shows: `openRoom` waits for the socket, not for its `chat:join`, so a
  // first keystroke can reach the room before the other side is in it (the page sends one typing
  // event per 2 s at most, hence the 2.5 s waits).
  for (let attempt = 1; ; attempt++) {
    await practitioner.type("#chat-input", "…");
    try {
      await employee.waitForFunction(
        () => document.querySelector("#typing").textContent.length > 0, null, { timeout: 2500 });
      break;
    } catch (error) {
      if (attempt >= 8) throw error;
      await practitioner.fill("#chat-input", "");
    }
  }
  await practitioner.fill("#chat-input", "");
  await send(employee, "Bonjour docteur");
  await theirMessage(practitioner, "Bonjour docteur");
  await send(practitioner, "Bonjour, je vous écoute.");
  await theirMessage(employee, "Bonjour, je vous écoute.");
  await employee.waitForSelector('#messages li.mine .receipt:text-is("Lu")', { timeout: 10000 });

  // A dropped connection: what was said meanwhile is replayed on reconnect.
  await employee.evaluate(() => window.huntzenRoom.chat.disconnect());
  await send(practitioner, "Message pendant la coupure");
  await practitioner.waitForSelector('#messages li.mine .content:text-is("Message pendant la coupure")');
  await employee.evaluate(() => window.huntzenRoom.chat.connect());
  await theirMessage(employee, "Message pendant la coupure");

  // The audio call: ring, accept, both peer connections connected with audio flowing.
  await employee.click("#call-start");
  await practitioner.waitForSelector('#call-state[data-state="incoming"]', { timeout: 10000 });
  await practitioner.click("#call-accept");
  for (const page of [employee, practitioner]) {
    await page.waitForSelector('#call-state[data-state="in-call"]', { timeout: 20000 });
    check(await page.evaluate(() => window.huntzenRoom.pc.connectionState) === "connected", "peer connection not connected");
  }
  const before = [await inboundPackets(employee), await inboundPackets(practitioner)];
  await employee.waitForTimeout(2000);
  const after = [await inboundPackets(employee), await inboundPackets(practitioner)];
  check(after[0] > before[0] && after[1] > before[1], `inbound audio packets did not grow: ${before} → ${after}`);
  console.log(`inbound audio packets: employee ${before[0]} → ${after[0]}, practitioner ${before[1]} → ${after[1]}`);
  await employee.screenshot({ path: `${artifacts}/room-employee-in-call.png`, fullPage: true });
  await practitioner.screenshot({ path: `${artifacts}/room-practitioner-in-call.png`, fullPage: true });

  // Hanging up ends the call on both sides.
  await employee.click("#call-hangup");
  for (const page of [employee, practitioner]) {
    await page.waitForSelector('#call-state[data-state="ended"]', { timeout: 10000 });
  }
  check(await practitioner.evaluate(() => window.huntzenRoom.pc.connectionState) === "closed", "practitioner's connection still open");

  // Another employee: the consultation is not listed, and opening it directly is refused.
  const outsider = await signIn(config.outsiderEmail);
  check(await outsider.locator(`a[href="#/consultation/${id}"]`).count() === 0, "the outsider sees the consultation");
  await outsider.goto(`${url}/room#/consultation/${id}`);
  await outsider.waitForSelector("#room-error:not(:empty)");
  check((await outsider.locator("#messages li").count()) === 0, "the outsider sees messages");
  check(await outsider.evaluate(() => window.huntzenRoom.chat === null), "the outsider joined the chat");
  await outsider.screenshot({ path: `${artifacts}/room-outsider-refused.png`, fullPage: true });

  await browser.close();
  console.log("ok");
  process.exit(0);
} catch (error) {
  console.error(error?.stack ?? String(error));
  await browser.close().catch(() => {});
  process.exit(1);
}
