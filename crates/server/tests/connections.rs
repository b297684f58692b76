//! Connection exhaustion (issue 23): a client sending its request head one byte at a time is
//! cut off after the header timeout, idle connections past the limit make room for new ones,
//! and a normal request still answers quickly meanwhile.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestServer;

fn connect(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Whether the server has closed `stream` (a read sees the end or a reset).
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// Times one ordinary request on a new connection.
fn timed_get(server: &TestServer, path: &str) -> (u16, Duration) {
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let status = client.get(server.url(path)).send().unwrap().status();
    (status.as_u16(), started.elapsed())
}

#[test]
fn slow_headers_are_cut_off_and_idle_connections_make_room() {
    let server = TestServer::start_with(
        &[
            "--max-connections",
            "32",
            "--header-timeout-secs",
            "2",
            "--idle-timeout-secs",
            "4",
        ],
        &[],
    );

    // One header byte every 200 ms: never a whole head.
    let mut slow = connect(&server);
    let started = Instant::now();
    let head = b"GET /api/settings/params HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    let mut cut_off = None;
    for byte in head.iter().chain(std::iter::repeat(&b'a')) {
        if slow.write_all(&[*byte]).is_err()
            || closed_by_server(&mut slow, Duration::from_millis(200))
        {
            cut_off = Some(started.elapsed());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "never cut off");
    }
    let cut_off = cut_off.unwrap();
    assert!(
        cut_off >= Duration::from_millis(1500) && cut_off < Duration::from_secs(6),
        "cut off after {cut_off:?} (header timeout 2 s)"
    );

    // Four times the connection limit of idle connections, then a normal request: the oldest
    // idle ones are closed to make room, and the request answers at once.
    let mut idle: Vec<TcpStream> = (0..128).map(|_| connect(&server)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let (status, took) = timed_get(&server, "/api/settings/params");
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(2),
        "a normal request took {took:?}"
    );
    let evicted = idle
        .iter_mut()
        .map(|s| closed_by_server(s, Duration::from_millis(20)))
        .filter(|&closed| closed)
        .count();
    assert!(
        evicted >= 128 - 32,
        "only {evicted} idle connections were closed"
    );

    // A kept-alive connection that stays idle is closed after the idle timeout, not before.
    let mut kept = connect(&server);
    kept.write_all(b"GET /api/settings/platforms HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = kept.read(&mut chunk).unwrap();
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(&answer[9..12], b"200");
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    let length: usize = text
        .split("content-length: ")
        .nth(1)
        .and_then(|rest| rest.split("\r\n").next())
        .and_then(|n| n.parse().ok())
        .expect("a content-length");
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut body_seen = answer.len() - head_end;
    while body_seen < length {
        body_seen += kept.read(&mut chunk).unwrap();
    }
    let idle_since = Instant::now();
    let mut closed_after = None;
    while idle_since.elapsed() < Duration::from_secs(15) {
        if closed_by_server(&mut kept, Duration::from_millis(200)) {
            closed_after = Some(idle_since.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("an idle connection must be closed");
    assert!(
        closed_after >= Duration::from_secs(3) && closed_after < Duration::from_secs(8),
        "closed after {closed_after:?} (idle timeout 4 s)"
    );

    let (status, _) = timed_get(&server, "/api/settings/platforms");
    assert_eq!(status, 200);
}
