//! The simulator's front: a small loopback HTTP/1 relay in front of the wiremock server, which
//! carries out the faults a [`ResponseTemplate`](wiremock::ResponseTemplate) cannot.
//!
//! wiremock (hyper underneath) can only send a well-formed answer: a template whose body is
//! shorter than its `content-length` trips a `debug_assert!` in hyper in debug builds (a panic
//! backtrace in the server thread) and leaves the client waiting for the missing bytes until its
//! own timeout in release builds. So the simulator core answers a cut-off body or a dropped
//! connection with a well-formed template that carries a marker header
//! ([`faults::cut_off`](crate::testkit::faults::cut_off), [`faults::drop_connection`](crate::testkit::faults::drop_connection)),
//! and this front, which is what [`Simulator::uri`](super::Simulator::uri) points at,
//! turns the marker into the real fault:
//!
//! - a cut-off body: the status line and headers (announcing the full length) and the first half
//!   of the body are sent, then the connection is closed;
//! - a dropped connection: the connection is closed without any answer.
//!
//! The client sees the same thing in debug and release builds, at once, and no panic is
//! printed. A third marker ([`ANSWER_AFTER_HEADER`], see [`answer_after`]) holds an answer (or
//! its fault) until a time after the request *arrived*: that is how the simulator's latency is
//! carried out, so that the simulator's own work is part of the latency instead of adding to
//! it. Every other answer is passed on unchanged (less the marker); the client's
//! connection is kept alive when it asked for that and the answer's length is known.
//!
//! Requests are passed on to the wiremock server over keep-alive connections the front keeps
//! (an HTTP/1.0 request gets a connection of its own, closed after its answer); the front reads
//! each answer to the end its framing gives (`content-length`, chunked coding, or the end of the
//! connection), and opens a new connection when the server had closed an idle one before
//! answering anything on it. It runs on its own thread and runtime, like wiremock's server, so
//! it works under any runtime the test uses, and it stops when the [`Front`] is dropped. Nothing a client sends can make it panic: a request
//! it cannot frame is answered 400 and the connection closed.
//!
//! With a [`Recycle`] (a simulator without request recording) the front passes requests to
//! one of several wiremock servers, the current one, and after `every` requests makes the next
//! server current and recycles the one it left: once the requests in flight on it have been
//! answered (a read-write gate per server), it resets it — wiremock keeps a copy of every
//! request a mock answered until then — and mounts the simulator's responder on it again.
//! Requests keep flowing to the new current server meanwhile, so nothing waits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::alarm::Alarm;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{RwLock, oneshot};
use wiremock::{Mock, MockServer};

/// The marker header: its value says which fault the front carries out. Never reaches a client.
pub(crate) const FAULT_HEADER: &str = "x-simulator-fault";
/// [`FAULT_HEADER`] value: send the headers and half the body, then close.
pub(crate) const CUT_OFF: &str = "cut-off";
/// [`FAULT_HEADER`] value: close without answering.
pub(crate) const DROP: &str = "drop";

/// The marker header of an answer the simulator wants given this many microseconds after the
/// request arrived at the front (its latency), whatever its own work took. Never reaches a
/// client.
pub(crate) const ANSWER_AFTER_HEADER: &str = "x-simulator-answer-after-us";

/// `template`, to be answered (or its fault carried out) `after` the request arrived at the
/// front: the simulator's own work happens within that time, as a vendor's does within the
/// latency a client sees, instead of adding to it.
pub(crate) fn answer_after(
    template: wiremock::ResponseTemplate,
    after: Duration,
) -> wiremock::ResponseTemplate {
    if after.is_zero() {
        return template;
    }
    template.insert_header(ANSWER_AFTER_HEADER, after.as_micros().to_string().as_str())
}

/// Longest request head the front reads.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body the front passes on.
const MAX_BODY: usize = 64 * 1024 * 1024;

const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Servers answered from in turn and reset in turn, so that wiremock's per-request memory is
/// freed (see the module docs).
pub(crate) struct Recycle {
    /// The servers (at least two), each with the simulator's responder mounted.
    pub(crate) servers: Vec<Arc<MockServer>>,
    /// Makes the simulator's responder mock, to mount again after a reset.
    pub(crate) mount: Arc<dyn Fn() -> Mock + Send + Sync>,
    /// Requests a server answers before the next one takes over.
    pub(crate) every: usize,
}

/// Most idle connections kept to one server.
const MAX_IDLE: usize = 256;

/// A wiremock server and the idle keep-alive connections the front keeps to it.
struct Target {
    addr: SocketAddr,
    idle: std::sync::Mutex<Vec<TcpStream>>,
}

impl Target {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn take_idle(&self) -> Option<TcpStream> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn put_idle(&self, connection: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
    }
}

/// Where the front passes requests on.
enum Upstream {
    /// Always this server.
    One(Target),
    /// The current one of several, recycled in turn.
    Recycled(Recycler),
}

struct Recycler {
    servers: Vec<Pooled>,
    mount: Arc<dyn Fn() -> Mock + Send + Sync>,
    every: usize,
    current: AtomicUsize,
    /// Requests passed to the current server since it became current.
    served: AtomicUsize,
    /// A server is being recycled.
    busy: AtomicBool,
}

struct Pooled {
    target: Target,
    server: Arc<MockServer>,
    /// Held shared by each request in flight on the server, exclusively while it is reset.
    gate: RwLock<()>,
}

/// After a request on a recycled upstream: when the current server has answered its share, the
/// next one takes over and the one left is reset in the background.
fn after_request(upstream: &Arc<Upstream>) {
    let Upstream::Recycled(r) = &**upstream else {
        return;
    };
    let served = r.served.fetch_add(1, Ordering::AcqRel) + 1;
    if served < r.every || r.busy.swap(true, Ordering::AcqRel) {
        return;
    }
    r.served.store(0, Ordering::Release);
    let left = r.current.load(Ordering::Acquire);
    r.current
        .store((left + 1) % r.servers.len(), Ordering::Release);
    let upstream = upstream.clone();
    tokio::spawn(async move {
        let Upstream::Recycled(r) = &*upstream else {
            return;
        };
        if let Some(pooled) = r.servers.get(left) {
            // Waits for the requests in flight on it; new ones go to the new current server.
            let _alone = pooled.gate.write().await;
            pooled.server.reset().await;
            (r.mount)().mount(&pooled.server).await;
        }
        r.busy.store(false, Ordering::Release);
    });
}

/// A running front; dropping it stops it.
pub(crate) struct Front {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Front {
    /// Starts a front on `127.0.0.1:<free port>` that passes requests on to `upstream`, or, with
    /// `recycle`, to its servers in turn.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound or the front's thread cannot start, as
    /// [`MockServer`](wiremock::MockServer) does.
    pub(crate) fn start(upstream: SocketAddr, recycle: Option<Recycle>) -> Self {
        let upstream = Arc::new(match recycle {
            Some(r) if r.servers.len() >= 2 => Upstream::Recycled(Recycler {
                servers: r
                    .servers
                    .into_iter()
                    .map(|server| Pooled {
                        target: Target::new(*server.address()),
                        server,
                        gate: RwLock::new(()),
                    })
                    .collect(),
                mount: r.mount,
                every: r.every.max(1),
                current: AtomicUsize::new(0),
                served: AtomicUsize::new(0),
                busy: AtomicBool::new(false),
            }),
            _ => Upstream::One(Target::new(upstream)),
        });
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .unwrap_or_else(|e| panic!("the simulator's front cannot bind a loopback port: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the simulator's front has no address: {e}"));
        let (stop, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("the simulator's front cannot build its runtime: {e}"));
        std::thread::Builder::new()
            .name("simulator-front".into())
            .spawn(move || runtime.block_on(serve(listener, upstream, stopped)))
            .unwrap_or_else(|e| panic!("the simulator's front cannot start its thread: {e}"));
        Self { addr, _stop: stop }
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub(crate) fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn serve(
    listener: std::net::TcpListener,
    upstream: Arc<Upstream>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "the simulator's front cannot listen");
            return;
        }
    };
    let alarm = Arc::new(Alarm::start());
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    tokio::spawn(relay(client, upstream.clone(), alarm.clone()));
                }
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

/// Why a client connection ends early.
enum Ended {
    /// The client went away, or the connection is to be closed without a word.
    Closed,
    /// A request the front cannot frame: answer 400 and close.
    Bad,
}

/// One request, read whole.
struct Request {
    /// Head (without `expect` nor the client's connection fields; with `connection: close`
    /// for HTTP/1.0) and body, as passed on.
    forward: Vec<u8>,
    /// HTTP/1.0: passed on over a connection of its own.
    http_10: bool,
    /// The client asked to close after the answer.
    close: bool,
    /// A `HEAD` request (its answer has no body whatever its headers say).
    head_method: bool,
}

async fn relay(mut client: TcpStream, upstream: Arc<Upstream>, alarm: Arc<Alarm>) {
    let _ = client.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let request = match read_request(&mut client, &mut buf).await {
            Ok(Some(request)) => request,
            Ok(None) | Err(Ended::Closed) => return,
            Err(Ended::Bad) => {
                let _ = client.write_all(BAD_REQUEST).await;
                let _ = client.shutdown().await;
                return;
            }
        };
        let arrived = tokio::time::Instant::now();
        match answer(&mut client, &upstream, &request, (arrived, &alarm)).await {
            Ok(true) => continue,
            Ok(false) | Err(_) => {
                let _ = client.shutdown().await;
                return;
            }
        }
    }
}

/// Reads more from the client into `buf`; `Ok(0)` at the end of the stream.
async fn read_more(client: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, Ended> {
    client.read_buf(buf).await.map_err(|_| Ended::Closed)
}

/// The next request on the connection, taken out of `buf`; `None` when the client closed
/// between requests.
async fn read_request(client: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Option<Request>, Ended> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(Ended::Bad);
        }
        if read_more(client, buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(Ended::Closed)
            };
        }
    };
    let head = Head::parse(&buf[..head_end - 4]).ok_or(Ended::Bad)?;
    let http_10 = head.start.ends_with(b"HTTP/1.0");
    let close = if http_10 {
        !head.has_token("connection", "keep-alive")
    } else {
        head.has_token("connection", "close")
    };
    let chunked = head.has_token("transfer-encoding", "chunked");
    let length = if chunked {
        None
    } else {
        content_length(&head)?
    };
    if length.is_some_and(|n| n > MAX_BODY) {
        return Err(Ended::Bad);
    }
    let expects_body = chunked || length.is_some_and(|n| n > 0);
    let expect_continue = head
        .values("expect")
        .any(|v| v.eq_ignore_ascii_case(b"100-continue"));

    let mut forward = Vec::with_capacity(head_end + length.unwrap_or(0) + 32);
    forward.extend_from_slice(head.start);
    forward.extend_from_slice(b"\r\n");
    for field in &head.fields {
        if !field.is_any(&["connection", "keep-alive", "proxy-connection", "expect"]) {
            forward.extend_from_slice(field.line);
            forward.extend_from_slice(b"\r\n");
        }
    }
    if http_10 {
        forward.extend_from_slice(b"connection: close\r\n");
    }
    forward.extend_from_slice(b"\r\n");
    let head_method = head.start.starts_with(b"HEAD ");

    if expect_continue && expects_body {
        client
            .write_all(CONTINUE)
            .await
            .map_err(|_| Ended::Closed)?;
    }
    let end = loop {
        let body = &buf[head_end..];
        let done = if chunked {
            chunked_len(body).map_err(|()| Ended::Bad)?
        } else {
            let n = length.unwrap_or(0);
            (body.len() >= n).then_some(n)
        };
        if let Some(n) = done {
            break head_end + n;
        }
        if body.len() > MAX_BODY {
            return Err(Ended::Bad);
        }
        if read_more(client, buf).await? == 0 {
            return Err(Ended::Closed);
        }
    };
    forward.extend_from_slice(&buf[head_end..end]);
    buf.drain(..end);
    Ok(Some(Request {
        forward,
        http_10,
        close,
        head_method,
    }))
}

/// The request's `content-length`, if any; several must agree.
fn content_length(head: &Head<'_>) -> Result<Option<usize>, Ended> {
    let mut length = None;
    for value in head.values("content-length") {
        let n = std::str::from_utf8(value)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or(Ended::Bad)?;
        if length.is_some_and(|l| l != n) {
            return Err(Ended::Bad);
        }
        length = Some(n);
    }
    Ok(length)
}

/// Passes `request` on and its answer back, carrying out a fault marker. `Ok(true)` when the
/// client's connection stays open for another request.
async fn answer(
    client: &mut TcpStream,
    upstream: &Arc<Upstream>,
    request: &Request,
    (arrived, alarm): (tokio::time::Instant, &Alarm),
) -> Result<bool, Ended> {
    let response = match &**upstream {
        Upstream::One(target) => exchange(target, request).await?,
        Upstream::Recycled(recycler) => {
            let response = {
                let pooled = recycler
                    .servers
                    .get(recycler.current.load(Ordering::Acquire))
                    .ok_or(Ended::Closed)?;
                let _in_flight = pooled.gate.read().await;
                exchange(&pooled.target, request).await
            };
            after_request(upstream);
            response?
        }
    };

    // No answer at all from the server: the client gets none either.
    let head_end = find(&response, b"\r\n\r\n").ok_or(Ended::Closed)? + 4;
    let head = Head::parse(&response[..head_end - 4]).ok_or(Ended::Closed)?;
    let body = &response[head_end..];
    let fault = head.values(FAULT_HEADER).next();
    let after = head
        .values(ANSWER_AFTER_HEADER)
        .next()
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    if let Some(micros) = after {
        alarm.until(arrived + Duration::from_micros(micros)).await;
    }

    if fault.is_some_and(|v| v.eq_ignore_ascii_case(DROP.as_bytes())) {
        return Err(Ended::Closed);
    }
    let cut_off = fault.is_some_and(|v| v.eq_ignore_ascii_case(CUT_OFF.as_bytes()));

    let status = status_of(&head);
    let delimited = request.head_method
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || head.values("content-length").next().is_some()
        || head.has_token("transfer-encoding", "chunked");
    let keep_alive = delimited && !request.close && !cut_off;

    let mut out = Vec::with_capacity(response.len() + 32);
    out.extend_from_slice(head.start);
    out.extend_from_slice(b"\r\n");
    for field in &head.fields {
        if !field.is_any(&[
            "connection",
            "keep-alive",
            FAULT_HEADER,
            ANSWER_AFTER_HEADER,
        ]) {
            out.extend_from_slice(field.line);
            out.extend_from_slice(b"\r\n");
        }
    }
    if !keep_alive && !cut_off {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if cut_off {
        // The headers announce the whole body; half of it comes, then the connection closes.
        out.extend_from_slice(&body[..body.len() / 2]);
    } else {
        out.extend_from_slice(body);
    }
    client.write_all(&out).await.map_err(|_| Ended::Closed)?;
    client.flush().await.map_err(|_| Ended::Closed)?;
    Ok(keep_alive)
}

/// Passes `request` on to `target` and reads its whole answer, over an idle keep-alive
/// connection when there is one (and a new one when the server had closed that one before
/// answering anything), keeping the connection for the next request when the answer allows.
async fn exchange(target: &Target, request: &Request) -> Result<Vec<u8>, Ended> {
    let keep = !request.http_10;
    if keep {
        if let Some(mut connection) = target.take_idle() {
            match send_and_read(&mut connection, request).await {
                Ok((response, reusable)) => {
                    if reusable {
                        target.put_idle(connection);
                    }
                    return Ok(response);
                }
                // Closed while idle: nothing of the request was answered; try a new connection.
                Err(Exchange::NothingRead) => {}
                Err(Exchange::Broken) => return Err(Ended::Closed),
            }
        }
    }
    let mut connection = TcpStream::connect(target.addr)
        .await
        .map_err(|_| Ended::Closed)?;
    let _ = connection.set_nodelay(true);
    let (response, reusable) = send_and_read(&mut connection, request)
        .await
        .map_err(|_| Ended::Closed)?;
    if keep && reusable {
        target.put_idle(connection);
    }
    Ok(response)
}

/// Why an exchange with the server failed.
enum Exchange {
    /// The connection ended before any byte of an answer.
    NothingRead,
    /// It ended in the middle of one, or could not be written to.
    Broken,
}

/// Writes the request and reads one whole answer; also whether the connection may carry
/// another request.
async fn send_and_read(
    connection: &mut TcpStream,
    request: &Request,
) -> Result<(Vec<u8>, bool), Exchange> {
    if connection.write_all(&request.forward).await.is_err() {
        return Err(Exchange::NothingRead);
    }
    let mut response = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = find(&response, b"\r\n\r\n") {
            break i + 4;
        }
        match connection.read_buf(&mut response).await {
            Ok(0) | Err(_) if response.is_empty() => return Err(Exchange::NothingRead),
            Ok(0) | Err(_) => return Err(Exchange::Broken),
            Ok(_) => {}
        }
    };
    let Some(head) = Head::parse(&response[..head_end - 4]) else {
        return Err(Exchange::Broken);
    };
    let status = status_of(&head);
    let reusable = !head.has_token("connection", "close");
    let no_body =
        request.head_method || (100..200).contains(&status) || status == 204 || status == 304;
    let length = if no_body {
        Some(0)
    } else if head.has_token("transfer-encoding", "chunked") {
        None
    } else {
        match content_length(&head) {
            Ok(n) => n,
            Err(_) => return Err(Exchange::Broken),
        }
    };
    let chunked = length.is_none() && !no_body && head.has_token("transfer-encoding", "chunked");
    drop(head);
    loop {
        let body = &response[head_end..];
        let end = if chunked {
            match chunked_len(body) {
                Ok(Some(n)) => Some(n),
                Ok(None) => None,
                Err(()) => return Err(Exchange::Broken),
            }
        } else {
            length.filter(|&n| body.len() >= n)
        };
        if let Some(n) = end {
            let whole = body.len() == n;
            response.truncate(head_end + n);
            return Ok((response, reusable && whole));
        }
        match connection.read_buf(&mut response).await {
            // No framing: the answer ends with the connection.
            Ok(0) if length.is_none() && !chunked => return Ok((response, false)),
            Ok(0) | Err(_) => return Err(Exchange::Broken),
            Ok(_) => {}
        }
    }
}

/// The status code of an answer's head (0 when unreadable).
fn status_of(head: &Head<'_>) -> u16 {
    head.start
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0)
}

/// The head of a request or an answer: the start line and the header fields.
struct Head<'a> {
    start: &'a [u8],
    fields: Vec<Field<'a>>,
}

struct Field<'a> {
    name: &'a [u8],
    value: &'a [u8],
    /// The whole line, as received.
    line: &'a [u8],
}

impl Field<'_> {
    fn is_any(&self, names: &[&str]) -> bool {
        names
            .iter()
            .any(|n| self.name.eq_ignore_ascii_case(n.as_bytes()))
    }
}

impl<'a> Head<'a> {
    /// Parses a head without its final empty line; `None` when a field line has no colon.
    fn parse(head: &'a [u8]) -> Option<Self> {
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let start = lines.next()?;
        let mut fields = Vec::new();
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let colon = line.iter().position(|&b| b == b':')?;
            fields.push(Field {
                name: line[..colon].trim_ascii(),
                value: line[colon + 1..].trim_ascii(),
                line,
            });
        }
        Some(Self { start, fields })
    }

    fn values<'h>(&'h self, name: &'h str) -> impl Iterator<Item = &'a [u8]> + 'h {
        self.fields
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| f.value)
    }

    /// Whether a comma-separated field `name` holds `token`.
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name).any(|v| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The length of a complete chunked body at the start of `data` (trailers included), `None`
/// while more is needed, `Err` when it is not chunked coding.
fn chunked_len(data: &[u8]) -> Result<Option<usize>, ()> {
    let mut pos = 0;
    loop {
        let Some(eol) = find(&data[pos..], b"\r\n") else {
            return Ok(None);
        };
        let line = &data[pos..pos + eol];
        let size = line
            .split(|&b| b == b';')
            .next()
            .unwrap_or(line)
            .trim_ascii();
        if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
            return Err(());
        }
        let size = std::str::from_utf8(size)
            .ok()
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or(())?;
        pos += eol + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(eol) = find(&data[pos..], b"\r\n") else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some(pos));
                }
            }
        }
        let end = pos.checked_add(size).ok_or(())?;
        let Some(crlf) = data.get(end..end + 2) else {
            return Ok(None);
        };
        if crlf != b"\r\n" {
            return Err(());
        }
        pos = end + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_framed() {
        assert_eq!(chunked_len(b"0\r\n\r\n"), Ok(Some(5)));
        assert_eq!(chunked_len(b"3\r\nabc\r\n0\r\n\r\nGET"), Ok(Some(13)));
        let with_trailer = b"3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n";
        assert_eq!(chunked_len(with_trailer), Ok(Some(with_trailer.len())));
        assert_eq!(chunked_len(b"3\r\nab"), Ok(None));
        assert_eq!(chunked_len(b"3\r\nabc\r\n0\r\n"), Ok(None));
        assert_eq!(chunked_len(b"zz\r\n"), Err(()));
        assert_eq!(chunked_len(b"3\r\nabcd\r\n"), Err(()));
        assert_eq!(chunked_len(b"ffffffffffffffff\r\n"), Err(()));
    }

    #[test]
    fn heads_are_read_without_trusting_them() {
        let head =
            Head::parse(b"POST /x HTTP/1.1\r\nContent-Length: 3\r\nConnection: keep-alive, close")
                .expect("a head");
        assert_eq!(head.start, b"POST /x HTTP/1.1");
        assert!(head.has_token("connection", "close"));
        assert_eq!(head.values("content-length").next(), Some(&b"3"[..]));
        assert!(Head::parse(b"GET / HTTP/1.1\r\nno colon here").is_none());
    }
}
