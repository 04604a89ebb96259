//! Socket.IO load from a Rust process (a Node client saturates first on two cores), speaking
//! Engine.IO v4 / Socket.IO v5 over WebSocket directly. Used by `bench/run`:
//!
//! - `idle <url> <tokens-file> <count> <hold-seconds>`: `count` authenticated `/chat` sockets, held.
//! - `bare-server <port>` / `bare-idle <ws-url> <count> <hold-seconds>`: the bound — a plain
//!   WebSocket server holding connections, and as many plain clients.
//! - `fanout <url> <plan-file> <rate> <seconds>`: plan lines `consultationId tokenA tokenB perSide`;
//!   every room gets `perSide` sockets per participant; messages are sent at `rate`/s from side A
//!   of the rooms in turn, acknowledged after commit, and timed until every other socket of the
//!   room has received them. A warm-up of one message per room comes first and is reported apart
//!   (the first message of a consultation also creates its data key). Prints p50/p99/max delivery
//!   latency and the achieved rate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Pending = Arc<Mutex<HashMap<String, (Instant, usize)>>>;
type Latencies = Arc<Mutex<Vec<Duration>>>;

/// A connected `/chat` socket: its outgoing frames go through `tx`.
struct Socket {
    tx: mpsc::UnboundedSender<String>,
}

impl Socket {
    /// Connects, authenticates on `/chat`, answers pings; `on_event` sees every `42/chat,` frame.
    async fn connect(
        url: &str,
        token: &str,
        on_event: impl Fn(&str) + Send + 'static,
    ) -> anyhow::Result<Self> {
        let ws_url = format!(
            "{}/socket.io/?EIO=4&transport=websocket",
            url.replacen("http://", "ws://", 1)
        );
        let (stream, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .context("websocket connect")?;
        let (mut sink, mut source) = stream.split();
        // Engine.IO open packet.
        match source.next().await {
            Some(Ok(Message::Text(open))) if open.starts_with('0') => {}
            other => bail!("no Engine.IO open packet: {other:?}"),
        }
        sink.send(Message::text(format!("40/chat,{{\"token\":\"{token}\"}}")))
            .await?;
        // Pings may come before the namespace's answer.
        loop {
            match source.next().await {
                Some(Ok(Message::Text(reply))) if reply.starts_with("40/chat,") => break,
                Some(Ok(Message::Text(ping))) if ping.as_str() == "2" => {
                    sink.send(Message::text("3")).await?;
                }
                other => bail!("/chat refused: {other:?}"),
            }
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                if sink.send(Message::text(frame)).await.is_err() {
                    break;
                }
            }
        });
        let pong = tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = source.next().await {
                if let Message::Text(text) = message {
                    if text.as_str() == "2" {
                        pong.send("3".to_owned()).ok();
                    } else if text.starts_with("42/chat,") || text.starts_with("43/chat,") {
                        on_event(text.as_str());
                    }
                }
            }
        });
        Ok(Self { tx })
    }

    fn emit(&self, frame: String) {
        self.tx.send(frame).ok();
    }
}

fn tokens(path: &str) -> anyhow::Result<Vec<String>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

async fn idle(url: &str, tokens_file: &str, count: usize, hold: u64) -> anyhow::Result<()> {
    let tokens = tokens(tokens_file)?;
    let mut sockets = Vec::with_capacity(count);
    let started = Instant::now();
    for i in 0..count {
        sockets.push(Socket::connect(url, &tokens[i % tokens.len()], |_| {}).await?);
        if (i + 1) % 1000 == 0 {
            eprintln!("  {} sockets connected", i + 1);
        }
    }
    println!(
        "idle: {count} authenticated sockets in {:.1} s; holding {hold} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(hold)).await;
    drop(sockets);
    Ok(())
}

async fn bare_server(port: u16) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await {
                while let Some(Ok(_)) = ws.next().await {}
            }
        });
    }
}

async fn bare_idle(url: &str, count: usize, hold: u64) -> anyhow::Result<()> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        held.push(tokio_tungstenite::connect_async(url).await?.0);
    }
    println!("bare: {count} websockets; holding {hold} s");
    tokio::time::sleep(Duration::from_secs(hold)).await;
    Ok(())
}

struct Room {
    consultation: String,
    senders: Vec<Socket>,
}

async fn fanout(url: &str, plan: &str, rate: f64, seconds: u64) -> anyhow::Result<()> {
    let pending: Pending = Arc::default();
    let latencies: Latencies = Arc::default();
    let refusals: Arc<Mutex<Vec<String>>> = Arc::default();
    // (joined, the socket's sender, its chat:join frame): a join refused under load is sent again.
    let mut joins = Vec::new();
    let mut rooms = Vec::new();
    let mut receivers = Vec::new();
    let plan = std::fs::read_to_string(plan)?;
    for line in plan.lines().filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [consultation, a, b, per_side] = fields[..] else {
            bail!("bad plan line: {line}");
        };
        let per_side: usize = per_side.parse()?;
        let mut senders = Vec::new();
        for (token, side) in [(a, 0), (b, 1)] {
            for _ in 0..per_side {
                let (pending, latencies) = (pending.clone(), latencies.clone());
                let flag: Arc<std::sync::atomic::AtomicBool> = Arc::default();
                let (refusals, joined) = (refusals.clone(), flag.clone());
                let socket = Socket::connect(url, token, move |frame| {
                    if frame.starts_with("42/chat,[\"chat:history\"") {
                        joined.store(true, std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                    if frame.starts_with("43/chat,") && frame.contains("\"ok\":false") {
                        refusals
                            .lock()
                            .expect("lock")
                            .push(frame.chars().take(300).collect());
                        return;
                    }
                    if !frame.contains("\"chat:message:received\"") {
                        return;
                    }
                    let Some(start) = frame.find("\"content\":\"bench ") else {
                        return;
                    };
                    let key: String = frame[start + 11..]
                        .chars()
                        .take_while(|c| *c != '"')
                        .collect();
                    let mut pending = pending.lock().expect("lock");
                    if let Some((sent, left)) = pending.get_mut(&key) {
                        latencies.lock().expect("lock").push(sent.elapsed());
                        *left -= 1;
                        if *left == 0 {
                            pending.remove(&key);
                        }
                    }
                })
                .await?;
                let join =
                    format!("42/chat,[\"chat:join\",{{\"consultationId\":\"{consultation}\"}}]");
                socket.emit(join.clone());
                joins.push((flag, socket.tx.clone(), join));
                if side == 0 {
                    senders.push(socket);
                } else {
                    receivers.push(socket);
                }
            }
        }
        rooms.push((
            Room {
                consultation: consultation.to_owned(),
                senders,
            },
            // Receivers of a message: every other socket of the room.
            2 * per_side - 1,
        ));
    }
    // Every socket must be in its room (it got `chat:history`) before the first message; a join
    // refused while thousands arrive at once (pool busy → chat:error) is sent again.
    let waiting = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let missing: Vec<_> = joins
            .iter()
            .filter(|(flag, _, _)| !flag.load(std::sync::atomic::Ordering::Relaxed))
            .collect();
        if missing.is_empty() || waiting.elapsed() > Duration::from_secs(120) {
            eprintln!(
                "  {} rooms, {} sockets, {} not joined",
                rooms.len(),
                joins.len(),
                missing.len()
            );
            break;
        }
        for (_, tx, join) in missing {
            tx.send(join.clone()).ok();
        }
    }
    // Warm-up, timed apart: one message per room. The first message of a consultation also creates
    // its data key, which later messages reuse; the measured run below is the steady state.
    let count = rooms.len() as u64;
    let (_, first) = send(
        &rooms,
        &pending,
        &latencies,
        rate,
        Sending::Count(count),
        "w",
    )
    .await;
    println!(
        "fanout warm-up: one message per room ({count}; in the first run, each creates its room's data key): \
         median {:.2} ms, 99th percentile {:.2} ms",
        first.quantile(0.5),
        first.quantile(0.99)
    );
    let (elapsed, run) = send(
        &rooms,
        &pending,
        &latencies,
        rate,
        Sending::For(Duration::from_secs(seconds)),
        "",
    )
    .await;
    println!(
        "fanout: target {rate}/s sent {} in {elapsed:.1} s = {:.0}/s; deliveries {}; undelivered messages {}; \
         latency p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
        run.sent,
        run.sent as f64 / elapsed,
        run.latencies.len(),
        run.lost,
        run.quantile(0.5),
        run.quantile(0.99),
        run.quantile(1.0)
    );
    let refusals = refusals.lock().expect("lock");
    if let Some(first) = refusals.first() {
        println!("fanout: {} messages refused, e.g. {first}", refusals.len());
    }
    drop(receivers);
    Ok(())
}

/// How long a sending phase lasts.
enum Sending {
    Count(u64),
    For(Duration),
}

/// What a sending phase measured.
struct Phase {
    sent: u64,
    lost: usize,
    latencies: Vec<Duration>,
}

impl Phase {
    /// The `q` quantile of the delivery latencies, in milliseconds.
    fn quantile(&self, q: f64) -> f64 {
        let index = ((self.latencies.len() as f64 * q) as usize)
            .min(self.latencies.len().saturating_sub(1));
        self.latencies
            .get(index)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
}

/// Sends messages at `rate`/s from side A of the rooms in turn, then waits 3 s for deliveries.
/// Returns the sending time in seconds and what was measured.
async fn send(
    rooms: &[(Room, usize)],
    pending: &Pending,
    latencies: &Latencies,
    rate: f64,
    how_long: Sending,
    tag: &str,
) -> (f64, Phase) {
    latencies.lock().expect("lock").clear();
    pending.lock().expect("lock").clear();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut sent = 0_u64;
    loop {
        let more = match how_long {
            Sending::Count(count) => sent < count,
            Sending::For(duration) => started.elapsed() < duration,
        };
        if !more {
            break;
        }
        tick.tick().await;
        let (room, receivers) = &rooms[sent as usize % rooms.len()];
        let key = format!("bench {tag}{sent}");
        pending
            .lock()
            .expect("lock")
            .insert(key.clone(), (Instant::now(), *receivers));
        let ack = sent % 1_000_000;
        room.senders[0].emit(format!(
            "42/chat,{ack}[\"chat:message\",{{\"consultationId\":\"{}\",\"content\":\"{key}\"}}]",
            room.consultation
        ));
        sent += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut all = latencies.lock().expect("lock").clone();
    all.sort_unstable();
    let lost = pending.lock().expect("lock").len();
    (
        elapsed,
        Phase {
            sent,
            lost,
            latencies: all,
        },
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .context("missing argument (see the module doc)")
    };
    match arg(0)? {
        "idle" => idle(arg(1)?, arg(2)?, arg(3)?.parse()?, arg(4)?.parse()?).await,
        "bare-server" => bare_server(arg(1)?.parse()?).await,
        "bare-idle" => bare_idle(arg(1)?, arg(2)?.parse()?, arg(3)?.parse()?).await,
        "fanout" => fanout(arg(1)?, arg(2)?, arg(3)?.parse()?, arg(4)?.parse()?).await,
        other => bail!("unknown command {other} (idle, bare-server, bare-idle, fanout)"),
    }
}
