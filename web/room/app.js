// HuntZen Care consultation room: sign in, list my consultations, open one (chat, audio call over
// WebRTC with the /audio-call signalling, Jitsi for VIDEO consultations). No framework, no CDN: the
// only dependency is the vendored socket.io-client (web/room/vendor, see docs/web-room.md).
"use strict";

(() => {
  const I18N = {
    fr: {
      skip: "Aller au contenu", language: "Langue", logout: "Se déconnecter", loginTitle: "Connexion",
      email: "Adresse e-mail", password: "Mot de passe",
      totp: "Code de vérification (application d'authentification)", signIn: "Se connecter",
      myConsultations: "Mes consultations", noConsultations: "Aucune consultation.", back: "← Mes consultations",
      audioCall: "Appel audio", call: "Appeler", accept: "Décrocher", reject: "Refuser", hangUp: "Raccrocher",
      timer: "Durée", micLevel: "Niveau du micro", video: "Vidéo", joinVideo: "Rejoindre la vidéo",
      leaveVideo: "Quitter la vidéo", chat: "Messages", yourMessage: "Votre message", send: "Envoyer",
      open: "Ouvrir", with: "avec", signedInAs: "Connecté·e : {email}",
      totpNeeded: "Saisissez le code à 6 chiffres de votre application.", loginFailed: "Connexion impossible : {message}",
      loading: "Chargement…", connected: "Connecté au salon.", reconnecting: "Connexion perdue, reconnexion…",
      typing: "{name} écrit…", read: "Lu", sent: "Envoyé", you: "Vous", them: "Votre interlocuteur",
      idle: "Aucun appel en cours.", calling: "Appel en cours… (sonnerie)", incoming: "Appel entrant de {name}.",
      connecting: "Connexion audio…", inCall: "En communication.", ended: "Appel terminé.",
      rejected: "Appel refusé.", missed: "Appel manqué.", busy: "Votre interlocuteur est déjà en ligne.",
      callError: "Appel impossible : {message}", micDenied: "Micro inaccessible : {message}",
      online: "en ligne", offline: "hors ligne", notFound: "Consultation introuvable ou inaccessible.",
      videoUnavailable: "Vidéo indisponible : {message}", videoLoading: "Chargement de la vidéo…",
      status_SCHEDULED: "Planifiée", status_CONFIRMED: "Confirmée", status_IN_PROGRESS: "En cours",
      status_COMPLETED: "Terminée", status_CANCELLED: "Annulée", status_NO_SHOW: "Absence",
      format_VIDEO: "Vidéo", format_AUDIO: "Audio", format_IN_PERSON: "En présentiel",
      crisisTitle: "Besoin d'aide maintenant ?",
    },
    en: {
      skip: "Skip to content", language: "Language", logout: "Sign out", loginTitle: "Sign in",
      email: "Email address", password: "Password", totp: "Verification code (authenticator app)", signIn: "Sign in",
      myConsultations: "My consultations", noConsultations: "No consultations.", back: "← My consultations",
      audioCall: "Audio call", call: "Call", accept: "Answer", reject: "Decline", hangUp: "Hang up",
      timer: "Duration", micLevel: "Microphone level", video: "Video", joinVideo: "Join the video",
      leaveVideo: "Leave the video", chat: "Messages", yourMessage: "Your message", send: "Send",
      open: "Open", with: "with", signedInAs: "Signed in: {email}",
      totpNeeded: "Enter the 6-digit code from your app.", loginFailed: "Could not sign in: {message}",
      loading: "Loading…", connected: "Connected to the room.", reconnecting: "Connection lost, reconnecting…",
      typing: "{name} is typing…", read: "Read", sent: "Sent", you: "You", them: "The other participant",
      idle: "No call in progress.", calling: "Calling… (ringing)", incoming: "Incoming call from {name}.",
      connecting: "Connecting audio…", inCall: "In call.", ended: "Call ended.", rejected: "Call declined.",
      missed: "Missed call.", busy: "The other participant is already in a call.",
      callError: "Call failed: {message}", micDenied: "Microphone unavailable: {message}",
      online: "online", offline: "offline", notFound: "Consultation not found or not available to you.",
      videoUnavailable: "Video unavailable: {message}", videoLoading: "Loading the video…",
      status_SCHEDULED: "Scheduled", status_CONFIRMED: "Confirmed", status_IN_PROGRESS: "In progress",
      status_COMPLETED: "Completed", status_CANCELLED: "Cancelled", status_NO_SHOW: "No-show",
      format_VIDEO: "Video", format_AUDIO: "Audio", format_IN_PERSON: "In person",
      crisisTitle: "Need help now?",
    },
  };

  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem("huntzen.lang") || "fr";
  const t = (key, params = {}) =>
    (I18N[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, name) => params[name] ?? "");

  function applyLanguage() {
    document.documentElement.lang = lang;
    $("lang").value = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    if (room) renderCallState();
  }

  // ---- session (per tab: two windows can hold two different people) ----
  const session = {
    get access() { return sessionStorage.getItem("huntzen.access"); },
    get refresh() { return sessionStorage.getItem("huntzen.refresh"); },
    get user() { return JSON.parse(sessionStorage.getItem("huntzen.user") || "null"); },
    save(body) {
      sessionStorage.setItem("huntzen.access", body.accessToken);
      sessionStorage.setItem("huntzen.refresh", body.refreshToken);
      if (body.user) sessionStorage.setItem("huntzen.user", JSON.stringify(body.user));
    },
    clear() { for (const k of ["access", "refresh", "user"]) sessionStorage.removeItem(`huntzen.${k}`); },
  };

  class ApiError extends Error {
    constructor(status, body) {
      super(body?.detail || body?.title || `HTTP ${status}`);
      this.status = status;
      this.code = body?.code;
    }
  }

  async function api(method, path, body, retry = true) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (session.access) headers.authorization = `Bearer ${session.access}`;
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 401 && retry && session.refresh && !path.startsWith("/api/auth/")) {
      if (await refreshTokens()) return api(method, path, body, false);
    }
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }

  let refreshing = null;
  function refreshTokens() {
    refreshing ??= (async () => {
      try {
        session.save(await api("POST", "/api/auth/refresh", { refreshToken: session.refresh }, false));
        return true;
      } catch {
        session.clear();
        return false;
      } finally {
        setTimeout(() => { refreshing = null; }, 0);
      }
    })();
    return refreshing;
  }

  function say(message) { $("status").textContent = message; }

  function show(view) {
    for (const id of ["login-view", "list-view", "room-view"]) $(id).hidden = id !== view;
    const user = session.user;
    $("logout").hidden = !user;
    $("whoami").textContent = user ? t("signedInAs", { email: user.email }) : "";
  }

  // ---- sign in ----
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    const payload = { email: $("email").value.trim(), password: $("password").value };
    if (!$("totp-row").hidden && $("totp").value) payload.totpCode = $("totp").value.trim();
    try {
      session.save(await api("POST", "/api/auth/login", payload));
      $("password").value = "";
      $("totp").value = "";
      $("totp-row").hidden = true;
      route();
    } catch (error) {
      if (error.code === "auth.totp_required" || error.code === "auth.totp_invalid") {
        $("totp-row").hidden = false;
        $("totp").focus();
        $("login-error").textContent = t("totpNeeded");
      } else {
        $("login-error").textContent = t("loginFailed", { message: error.message });
      }
    }
  });

  $("logout").addEventListener("click", async () => {
    leaveRoom();
    try { await api("POST", "/api/auth/logout", { refreshToken: session.refresh }); } catch { /* already ended */ }
    session.clear();
    location.hash = "#/";
    route();
  });

  $("lang").addEventListener("change", () => {
    lang = $("lang").value;
    localStorage.setItem("huntzen.lang", lang);
    applyLanguage();
    showCrisisLines();
    if (!$("list-view").hidden) showList();
  });

  // ---- crisis lines (public, shown on every view, in the page's language) ----
  async function showCrisisLines() {
    try {
      const response = await fetch("/api/resources/crisis?country=FR", { headers: { "accept-language": lang } });
      if (!response.ok) return;
      const body = await response.json();
      $("crisis-advice").textContent = body.advice;
      const list = $("crisis-lines");
      list.replaceChildren(...body.items.map((line) => {
        const item = document.createElement("li");
        const call = document.createElement("a");
        call.href = `tel:${line.phone.replace(/\s/g, "")}`;
        call.textContent = line.phone;
        item.append(call, ` — ${line.name === line.phone ? "" : `${line.name} : `}${line.description}`);
        return item;
      }));
    } catch { /* offline: the page still works */ }
  }

  // ---- consultation list ----
  function otherParty(c) {
    const me = session.user;
    const p = me.role === "PRACTITIONER" ? c.employee : c.practitioner;
    return [p.title, p.firstName, p.lastName].filter(Boolean).join(" ");
  }

  function when(iso) {
    return new Date(iso).toLocaleString(lang === "fr" ? "fr-FR" : "en-GB", { dateStyle: "full", timeStyle: "short" });
  }

  async function myConsultations() {
    const role = session.user.role;
    const paths = role === "PRACTITIONER"
      ? ["/api/consultations/upcoming?pageSize=100", "/api/consultations/history?pageSize=100"]
      : ["/api/consultations/mine?pageSize=100"];
    const pages = await Promise.all(paths.map((p) => api("GET", p)));
    return pages.flatMap((page) => page.items);
  }

  async function showList() {
    show("list-view");
    say(t("loading"));
    const list = $("consultations");
    list.replaceChildren();
    try {
      const items = await myConsultations();
      $("list-empty").hidden = items.length > 0;
      for (const c of items) {
        const li = document.createElement("li");
        const link = document.createElement("a");
        link.href = `#/consultation/${c.id}`;
        link.textContent = `${when(c.scheduledAt)} — ${t(`format_${c.format}`)} ${t("with")} ${otherParty(c)}`;
        li.append(link, ` (${t(`status_${c.status}`)})`);
        list.append(li);
      }
      say("");
    } catch (error) {
      say(error.message);
    }
    $("list-title").focus?.();
  }

  // ---- the room ----
  let room = null; // { id, consultation, chat, calls, call, names }

  function leaveRoom() {
    if (!room) return;
    endCall(false);
    leaveVideo();
    room.chat?.close();
    room.calls?.close();
    room = null;
  }

  function socket(namespace) {
    // `auth` as a function: every reconnection presents the current (possibly refreshed) token.
    return io(namespace, {
      path: "/socket.io",
      transports: ["websocket"],
      auth: (cb) => cb({ token: session.access }),
    });
  }

  async function openRoom(id) {
    leaveRoom();
    show("room-view");
    $("room-error").textContent = "";
    $("messages").replaceChildren();
    $("typing").textContent = "";
    let consultation;
    try {
      consultation = await api("GET", `/api/consultations/${id}`);
    } catch (error) {
      $("room-title").textContent = "";
      $("room-meta").textContent = "";
      $("room-error").textContent = error.status === 404 ? t("notFound") : error.message;
      $("room-body").hidden = true;
      return;
    }
    $("room-body").hidden = false;
    const me = session.user;
    room = { id, consultation, me: me.id, cursor: null, ahead: new Map(), call: null, otherName: otherParty(consultation) };
    $("room-title").textContent = `${t(`format_${consultation.format}`)} ${t("with")} ${room.otherName}`;
    $("room-meta").textContent = `${when(consultation.scheduledAt)} — ${t(`status_${consultation.status}`)}`;
    $("video-block").hidden = consultation.format !== "VIDEO";
    connectChat();
    connectCalls();
    renderCallState();
  }

  // ---- chat ----
  function connectChat() {
    const chat = socket("/chat");
    room.chat = chat;
    window.huntzenRoom.chat = chat;
    chat.on("connect", () => {
      say(t("connected"));
      joinChat();
    });
    chat.on("disconnect", () => say(t("reconnecting")));
    chat.on("connect_error", async (error) => {
      if (error.message === "auth.invalid_token" && (await refreshTokens())) chat.connect();
      else say(error.message);
    });
    // Replays come in pages: follow `hasMore` until caught up (the socket is in the room from
    // the first join, so later messages arrive live meanwhile).
    chat.on("chat:history", (messages, page) => {
      for (const m of messages) addMessage(m);
      if (page && page.cursorSeq != null && (!room.cursor || page.cursorSeq > room.cursor.seq)) {
        room.cursor = { id: page.cursor, seq: page.cursorSeq };
      }
      advanceCursor();
      if (page?.hasMore) joinChat();
    });
    chat.on("chat:message:received", (m) => addMessage(m));
    chat.on("chat:message:read", ({ messageId }) => {
      const item = document.querySelector(`[data-message-id="${CSS.escape(messageId)}"] .receipt`);
      if (item) item.textContent = t("read");
    });
    chat.on("chat:typing", ({ isTyping }) => {
      $("typing").textContent = isTyping ? t("typing", { name: room.otherName }) : "";
      clearTimeout(room.typingTimer);
      room.typingTimer = setTimeout(() => { $("typing").textContent = ""; }, 5000);
    });
    chat.on("presence:update", ({ online }) => {
      $("room-meta").dataset.presence = online ? "online" : "offline";
      $("room-meta").textContent =
        `${when(room.consultation.scheduledAt)} — ${t(`status_${room.consultation.status}`)} — ${room.otherName} ${t(online ? "online" : "offline")}`;
    });
    chat.on("chat:error", ({ code, message }) => { $("room-error").textContent = `${message} (${code})`; });
  }

  // The replay cursor is the last position received with nothing missing before it: live messages
  // may arrive out of order, so one ahead of a gap waits in `ahead` until the gap is filled.
  function joinChat() {
    room.chat.emit("chat:join", room.cursor
      ? { consultationId: room.id, since: room.cursor.id, sinceSeq: room.cursor.seq }
      : { consultationId: room.id });
  }

  function advanceCursor() {
    if (!room.cursor) return;
    for (const [seq] of room.ahead) if (seq <= room.cursor.seq) room.ahead.delete(seq);
    while (room.ahead.has(room.cursor.seq + 1)) {
      const seq = room.cursor.seq + 1;
      room.cursor = { id: room.ahead.get(seq), seq };
      room.ahead.delete(seq);
    }
  }

  function addMessage(m) {
    if (!room || m.consultationId !== room.id) return;
    if (typeof m.seq === "number") room.ahead.set(m.seq, m.id);
    advanceCursor();
    if (document.querySelector(`[data-message-id="${CSS.escape(m.id)}"]`)) return;
    const mine = m.senderId === room.me;
    const li = document.createElement("li");
    li.dataset.messageId = m.id;
    li.className = mine ? "mine" : "theirs";
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${mine ? t("you") : room.otherName} · ${new Date(m.createdAt).toLocaleTimeString(lang)}`;
    const body = document.createElement("span");
    body.className = "content";
    body.textContent = m.content;
    li.append(meta, body);
    if (mine) {
      const receipt = document.createElement("span");
      receipt.className = "meta receipt";
      receipt.textContent = m.readAt ? t("read") : t("sent");
      li.append(receipt);
    } else if (!m.readAt) {
      room.chat.emit("chat:read", { messageId: m.id });
    }
    // One order for everyone: by position, whatever order the messages arrived in.
    li.dataset.seq = String(m.seq);
    const later = [...$("messages").children].find((x) => Number(x.dataset.seq) > m.seq);
    if (later) $("messages").insertBefore(li, later);
    else $("messages").append(li);
    li.scrollIntoView({ block: "nearest" });
  }

  let lastTyping = 0;
  $("chat-input").addEventListener("input", () => {
    if (!room?.chat || Date.now() - lastTyping < 2000) return;
    lastTyping = Date.now();
    room.chat.emit("chat:typing", { consultationId: room.id, isTyping: true });
  });
  $("chat-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("chat-form").requestSubmit();
    }
  });
  $("chat-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = $("chat-input").value.trim();
    if (!room?.chat || !content) return;
    const clientMessageId = crypto.randomUUID();
    try {
      const reply = await room.chat.timeout(10000).emitWithAck("chat:message", { consultationId: room.id, content, clientMessageId });
      if (!reply.ok) throw new Error(reply.error?.message ?? "refused");
      $("chat-input").value = "";
      lastTyping = 0;
      room.chat.emit("chat:typing", { consultationId: room.id, isTyping: false });
      addMessage(reply.message);
    } catch (error) {
      $("room-error").textContent = error.message;
    }
  });

  // ---- audio call ----
  // States: idle → calling | incoming → connecting → in-call → ended/missed/rejected/busy.
  function renderCallState() {
    const call = room?.call;
    const state = call?.state ?? room?.lastCallState ?? "idle";
    const text = {
      idle: t("idle"), calling: t("calling"), incoming: t("incoming", { name: call?.callerName ?? room?.otherName }),
      connecting: t("connecting"), "in-call": t("inCall"), ended: t("ended"), missed: t("missed"),
      rejected: t("rejected"), busy: t("busy"), error: t("callError", { message: room?.callError ?? "" }),
    }[state];
    $("call-state").textContent = text;
    $("call-state").dataset.state = state;
    const active = ["calling", "connecting", "in-call"].includes(state);
    $("call-start").hidden = active || state === "incoming";
    $("call-accept").hidden = state !== "incoming";
    $("call-reject").hidden = state !== "incoming";
    $("call-hangup").hidden = !active;
  }

  function setCall(state) {
    if (!room) return;
    if (room.call) room.call.state = state;
    renderCallState();
  }

  function finishCall(state) {
    if (!room) return;
    endCall(false);
    room.lastCallState = state;
    renderCallState();
  }

  function connectCalls() {
    const calls = socket("/audio-call");
    room.calls = calls;
    calls.on("call:incoming", (p) => {
      if (p.consultationId !== room.id) return;
      if (room.call?.state === "calling") { room.call.glare = true; return; }
      room.call = { state: "incoming", iceServers: p.iceServers, callerName: p.callerName, candidates: [] };
      renderCallState();
      $("call-accept").focus();
    });
    calls.on("call:accepted", async (p) => {
      if (p.consultationId !== room.id || !room.call) return;
      room.call.iceServers = p.iceServers;
      setCall("connecting");
      const pc = await peer();
      // The caller offers; after glare (both called) the one who was rung first waits for the offer.
      if (!room.call.glare && pc) {
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        calls.emit("webrtc:offer", { consultationId: room.id, offer: pc.localDescription });
      }
    });
    calls.on("webrtc:offer", async (p) => {
      if (p.consultationId !== room.id || !room.call) return;
      const pc = await peer();
      await pc.setRemoteDescription(p.offer);
      await flushCandidates(pc);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      calls.emit("webrtc:answer", { consultationId: room.id, answer: pc.localDescription });
    });
    calls.on("webrtc:answer", async (p) => {
      if (p.consultationId !== room.id || !room.call?.pc) return;
      await room.call.pc.setRemoteDescription(p.answer);
      await flushCandidates(room.call.pc);
    });
    calls.on("webrtc:ice-candidate", async (p) => {
      if (p.consultationId !== room.id || !room.call) return;
      const pc = room.call.pc;
      if (pc?.remoteDescription) await pc.addIceCandidate(p.candidate).catch(() => {});
      else room.call.candidates.push(p.candidate);
    });
    calls.on("call:rejected", () => finishCall("rejected"));
    calls.on("call:ended", () => finishCall("ended"));
    calls.on("call:missed", () => finishCall("missed"));
    calls.on("call:busy", () => finishCall("busy"));
    calls.on("call:error", (p) => { room.callError = p.message ?? p.code; finishCall("error"); });
  }

  async function flushCandidates(pc) {
    const queued = room.call.candidates.splice(0);
    for (const candidate of queued) await pc.addIceCandidate(candidate).catch(() => {});
  }

  async function microphone() {
    if (room.call.stream) return room.call.stream;
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    room.call.stream = stream;
    meterFor(stream);
    return stream;
  }

  function meterFor(stream) {
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    room.call.audioContext = context;
    room.call.meter = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      const rms = Math.sqrt(samples.reduce((sum, v) => sum + v * v, 0) / samples.length);
      $("mic-level").value = Math.min(1, rms * 4);
    }, 100);
  }

  // The call's RTCPeerConnection, created once with the iceServers the server sent.
  async function peer() {
    const call = room.call;
    if (call.pcReady) return call.pcReady;
    call.pcReady = (async () => {
      const stream = await microphone();
      const pc = new RTCPeerConnection({ iceServers: call.iceServers ?? [] });
      call.pc = pc;
      window.huntzenRoom.pc = pc;
      for (const track of stream.getTracks()) pc.addTrack(track, stream);
      pc.onicecandidate = ({ candidate }) => {
        if (candidate) room.calls.emit("webrtc:ice-candidate", { consultationId: room.id, candidate });
      };
      pc.ontrack = ({ streams }) => { $("remote-audio").srcObject = streams[0]; };
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "connected" && call.state !== "in-call") {
          setCall("in-call");
          call.startedAt = Date.now();
          call.timer = setInterval(() => {
            const s = Math.floor((Date.now() - call.startedAt) / 1000);
            $("call-timer").textContent = `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
          }, 500);
        }
      };
      return pc;
    })();
    return call.pcReady;
  }

  function endCall(notify) {
    const call = room?.call;
    if (!call) return;
    if (notify) room.calls?.emit("call:end", { consultationId: room.id });
    clearInterval(call.timer);
    clearInterval(call.meter);
    call.pc?.close();
    call.stream?.getTracks().forEach((track) => track.stop());
    call.audioContext?.close();
    $("mic-level").value = 0;
    $("remote-audio").srcObject = null;
    room.call = null;
  }

  $("call-start").addEventListener("click", async () => {
    room.call = { state: "calling", candidates: [] };
    room.lastCallState = null;
    renderCallState();
    try {
      await microphone();
      room.calls.emit("call:initiate", { consultationId: room.id });
    } catch (error) {
      room.callError = t("micDenied", { message: error.message });
      finishCall("error");
    }
  });
  $("call-accept").addEventListener("click", async () => {
    setCall("connecting");
    try {
      await peer();
      room.calls.emit("call:accept", { consultationId: room.id });
    } catch (error) {
      room.callError = t("micDenied", { message: error.message });
      room.calls.emit("call:reject", { consultationId: room.id });
      finishCall("error");
    }
  });
  $("call-reject").addEventListener("click", () => {
    room.calls.emit("call:reject", { consultationId: room.id });
    finishCall("idle");
  });
  $("call-hangup").addEventListener("click", () => {
    endCall(true);
    room.lastCallState = "ended";
    renderCallState();
  });

  // ---- video (Jitsi Meet, VIDEO consultations) ----
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`${src} could not be loaded`));
      document.head.append(script);
    });
  }

  $("video-join").addEventListener("click", async () => {
    $("room-error").textContent = "";
    say(t("videoLoading"));
    try {
      const link = await api("GET", `/api/consultations/${room.id}/room`);
      if (!window.JitsiMeetExternalAPI) await loadScript(`https://${link.domain}/external_api.js`);
      const jitsi = new window.JitsiMeetExternalAPI(link.domain, {
        roomName: link.roomName, jwt: link.jwt, parentNode: $("jitsi"), lang,
        configOverwrite: { prejoinConfig: { enabled: false } },
      });
      room.jitsi = jitsi;
      jitsi.addListener("videoConferenceJoined", () => attendance("ROOM_JOINED"));
      jitsi.addListener("videoConferenceLeft", () => { attendance("ROOM_LEFT"); leaveVideo(); });
      $("video-join").hidden = true;
      $("video-leave").hidden = false;
      say("");
    } catch (error) {
      say("");
      $("room-error").textContent = t("videoUnavailable", { message: error.message });
    }
  });
  $("video-leave").addEventListener("click", () => { attendance("ROOM_LEFT"); leaveVideo(); });

  function attendance(event) {
    if (room) api("POST", `/api/consultations/${room.id}/events`, { event }).catch(() => {});
  }

  function leaveVideo() {
    room?.jitsi?.dispose();
    if (room) room.jitsi = null;
    $("jitsi").replaceChildren();
    $("video-join").hidden = false;
    $("video-leave").hidden = true;
  }

  // ---- routing ----
  function route() {
    if (!session.access) {
      leaveRoom();
      show("login-view");
      $("email").focus();
      return;
    }
    const match = location.hash.match(/^#\/consultation\/([0-9a-f-]{36})$/);
    if (match) openRoom(match[1]);
    else { leaveRoom(); showList(); }
  }

  // For tests and integrators: the room's chat socket and the current call's RTCPeerConnection.
  window.huntzenRoom = { pc: null, chat: null };
  window.addEventListener("hashchange", route);
  window.addEventListener("pagehide", () => leaveRoom());
  applyLanguage();
  showCrisisLines();
  route();
})();
