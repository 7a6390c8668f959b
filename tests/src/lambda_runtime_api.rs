//! The Lambda service's side of the Runtime API, on 127.0.0.1, for measuring cold starts.
//!
//! A bootstrap (a Rust binary built on `lambda_runtime`, or Python's `awslambdaric`) polls
//! `GET /2018-06-01/runtime/invocation/next` once its init is done, and answers with
//! `POST /2018-06-01/runtime/invocation/<id>/response` or `.../error`; an init that fails posts
//! `.../init/error`. This server answers the first `next` with one event, holds every later
//! `next` (as the service does between invocations), and reports each request as it arrives,
//! with the instant its head was read, so [`crate::cold_start`] can time spawn → first poll and
//! spawn → first answer.
//!
//! Plain HTTP/1.1 on std threads: requests are few and small, and a blocking server adds nothing
//! to the timings the async runtime of the process under test would not.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where a bootstrap asks for its next event.
pub const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
/// The request id of the one invocation served.
pub const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// A request from the bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// A `next` poll: init is done (the first one), or the invocation is answered (later ones).
    Next,
    /// The invocation's result.
    Response { body: String },
    /// The invocation failed; the body is the runtime's error JSON (`errorType`, ...).
    Error { body: String },
    /// Init failed before the first poll.
    InitError { body: String },
    /// Anything else, by method and path: a bootstrap this server does not understand.
    Unexpected { request: String },
}

/// A running Runtime API; stops accepting when dropped.
#[derive(Debug)]
pub struct RuntimeApi {
    address: SocketAddr,
    arrivals: mpsc::Receiver<(Instant, Arrival)>,
    stopped: Arc<AtomicBool>,
}

impl RuntimeApi {
    /// Serves on a free port of 127.0.0.1; the first `next` gets `event` for `function_arn`.
    pub fn serve(event: Vec<u8>, function_arn: &str) -> io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let (sender, arrivals) = mpsc::channel();
        let stopped = Arc::new(AtomicBool::new(false));
        let invocation = Arc::new(Invocation {
            event,
            function_arn: function_arn.to_owned(),
            delivered: AtomicBool::new(false),
        });
        let stop = Arc::clone(&stopped);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let sender = sender.clone();
                let invocation = Arc::clone(&invocation);
                thread::spawn(move || {
                    // A bootstrap that is killed mid-request ends its connection: nothing to do.
                    let _ = serve_connection(stream, &invocation, &sender);
                });
            }
        });
        Ok(RuntimeApi {
            address,
            arrivals,
            stopped,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// The next request to arrive, or `None` after `timeout`.
    pub fn next_arrival(&self, timeout: Duration) -> Option<(Instant, Arrival)> {
        self.arrivals.recv_timeout(timeout).ok()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and ends.
        let _ = TcpStream::connect(self.address);
    }
}

#[derive(Debug)]
struct Invocation {
    event: Vec<u8>,
    function_arn: String,
    delivered: AtomicBool,
}

/// One request's line and the headers that matter here.
#[derive(Debug)]
struct Head {
    method: String,
    path: String,
    content_length: Option<usize>,
    chunked: bool,
}

fn serve_connection(
    stream: TcpStream,
    invocation: &Invocation,
    arrivals: &mpsc::Sender<(Instant, Arrival)>,
) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(head) = read_head(&mut reader)? {
        let at = Instant::now();
        let body = read_body(&mut reader, &head)?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let arrival = match (head.method.as_str(), head.path.as_str()) {
            ("GET", NEXT_PATH) => Arrival::Next,
            ("POST", path) if path.ends_with("/init/error") => Arrival::InitError { body },
            ("POST", path) if path.ends_with("/response") => Arrival::Response { body },
            ("POST", path) if path.ends_with("/error") => Arrival::Error { body },
            (method, path) => Arrival::Unexpected {
                request: format!("{method} {path}"),
            },
        };
        let is_next = arrival == Arrival::Next;
        let unexpected = matches!(arrival, Arrival::Unexpected { .. });
        if arrivals.send((at, arrival)).is_err() {
            return Ok(());
        }
        if is_next {
            if invocation.delivered.swap(true, Ordering::SeqCst) {
                // Between invocations the service holds the poll open; the bootstrap is killed
                // before another event would come, which ends this connection.
                let _ = reader.read(&mut [0u8; 1]);
                return Ok(());
            }
            write_event(&mut writer, invocation)?;
        } else if unexpected {
            writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
        } else {
            let status = br#"{"status":"OK"}"#;
            write!(
                writer,
                "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                status.len()
            )?;
            writer.write_all(status)?;
        }
        writer.flush()?;
    }
    Ok(())
}

fn write_event(writer: &mut TcpStream, invocation: &Invocation) -> io::Result<()> {
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + Duration::from_secs(300);
    write!(
        writer,
        "HTTP/1.1 200 OK\r\n\
         Content-Type: application/json\r\n\
         Lambda-Runtime-Aws-Request-Id: {REQUEST_ID}\r\n\
         Lambda-Runtime-Deadline-Ms: {}\r\n\
         Lambda-Runtime-Invoked-Function-Arn: {}\r\n\
         Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0\r\n\
         Content-Length: {}\r\n\r\n",
        deadline.as_millis(),
        invocation.function_arn,
        invocation.event.len()
    )?;
    writer.write_all(&invocation.event)
}

/// The request line and headers; `None` when the connection ends first.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not an HTTP request line: {line:?}"),
        ));
    };
    let mut head = Head {
        method: method.to_owned(),
        path: path.to_owned(),
        content_length: None,
        chunked: false,
    };
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            return Ok(Some(head));
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
}

/// The body, by `Content-Length` or chunked transfer coding (both are seen from runtimes).
fn read_body(reader: &mut impl BufRead, head: &Head) -> io::Result<Vec<u8>> {
    if !head.chunked {
        let mut body = vec![0; head.content_length.unwrap_or(0)];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size = size_line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size {size_line:?}"),
            )
        })?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim_end().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    fn connect(api: &RuntimeApi) -> (TcpStream, BufReader<TcpStream>) {
        let stream = TcpStream::connect(api.address()).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        (stream, reader)
    }

    /// Reads one response: its status line, headers and body (by Content-Length).
    fn response(reader: &mut BufReader<TcpStream>) -> (String, Vec<String>, String) {
        let mut status = String::new();
        reader.read_line(&mut status).expect("status line");
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length: ") {
                length = value.parse().expect("a length");
            }
            headers.push(line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        (
            status.trim_end().to_owned(),
            headers,
            String::from_utf8(body).expect("utf-8"),
        )
    }

    #[test]
    fn the_first_poll_gets_the_event_and_the_answer_is_reported() {
        let api = RuntimeApi::serve(br#"{"Records":[]}"#.to_vec(), "arn:fn").expect("serve");
        let (mut stream, mut reader) = connect(&api);
        write!(stream, "GET {NEXT_PATH} HTTP/1.1\r\nHost: x\r\n\r\n").expect("poll");
        let (status, headers, body) = response(&mut reader);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, r#"{"Records":[]}"#);
        assert!(headers.contains(&format!("Lambda-Runtime-Aws-Request-Id: {REQUEST_ID}")));
        assert!(headers.contains(&"Lambda-Runtime-Invoked-Function-Arn: arn:fn".to_owned()));
        assert_eq!(api.next_arrival(WAIT).map(|a| a.1), Some(Arrival::Next));

        let answer = r#"{"batchItemFailures":[]}"#;
        write!(
            stream,
            "POST /2018-06-01/runtime/invocation/{REQUEST_ID}/response HTTP/1.1\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        )
        .expect("answer");
        let (status, _, _) = response(&mut reader);
        assert_eq!(status, "HTTP/1.1 202 Accepted");
        assert_eq!(
            api.next_arrival(WAIT).map(|a| a.1),
            Some(Arrival::Response {
                body: answer.to_owned()
            })
        );
    }

    #[test]
    fn a_chunked_error_is_decoded_and_a_second_poll_is_held() {
        let api = RuntimeApi::serve(b"{}".to_vec(), "arn:fn").expect("serve");
        let (mut stream, mut reader) = connect(&api);
        write!(stream, "GET {NEXT_PATH} HTTP/1.1\r\n\r\n").expect("poll");
        response(&mut reader);
        write!(
            stream,
            "POST /2018-06-01/runtime/invocation/{REQUEST_ID}/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{{\"err\r\n3\r\nor\"\r\n1\r\n}}\r\n0\r\n\r\n"
        )
        .expect("error");
        response(&mut reader);
        let arrivals: Vec<Arrival> = (0..2)
            .filter_map(|_| api.next_arrival(WAIT))
            .map(|a| a.1)
            .collect();
        assert_eq!(
            arrivals,
            vec![
                Arrival::Next,
                Arrival::Error {
                    body: r#"{"error"}"#.to_owned()
                }
            ]
        );

        write!(stream, "GET {NEXT_PATH} HTTP/1.1\r\n\r\n").expect("second poll");
        assert_eq!(api.next_arrival(WAIT).map(|a| a.1), Some(Arrival::Next));
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut byte = [0u8; 1];
        let held = reader.read(&mut byte);
        assert!(
            held.as_ref().is_err_and(|e| matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            )),
            "the second poll was answered: {held:?}"
        );
    }

    #[test]
    fn an_init_error_and_an_unknown_path_are_told_apart() {
        let api = RuntimeApi::serve(b"{}".to_vec(), "arn:fn").expect("serve");
        let (mut stream, mut reader) = connect(&api);
        write!(
            stream,
            "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 2\r\n\r\n{{}}"
        )
        .expect("init error");
        let (status, _, _) = response(&mut reader);
        assert_eq!(status, "HTTP/1.1 202 Accepted");
        write!(stream, "GET /2018-06-01/elsewhere HTTP/1.1\r\n\r\n").expect("other");
        let (status, _, _) = response(&mut reader);
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        let arrivals: Vec<Arrival> = (0..2)
            .filter_map(|_| api.next_arrival(WAIT))
            .map(|a| a.1)
            .collect();
        assert_eq!(
            arrivals,
            vec![
                Arrival::InitError {
                    body: "{}".to_owned()
                },
                Arrival::Unexpected {
                    request: "GET /2018-06-01/elsewhere".to_owned()
                }
            ]
        );
    }
}
