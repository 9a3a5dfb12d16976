//! A login's approve reaches the server in one piece over a real loopback
//! socket: a scripted server reads each request once and finds the whole
//! POST (head and body) in that one read.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

const READ: &str = r#"{"ok":true,"data":{"request_id":"lr_w","site_id":"site_1","status":"PENDING","expires_at":"2030-01-01T00:00:00Z","approved_agent_id":null,"pow_challenge":"c0ffee","pow_difficulty":0,"pow_scheme":"v1"}}"#;
const APPROVED: &str = r#"{"ok":true,"data":{"request_id":"lr_w","site_id":"site_1","status":"APPROVED","expires_at":"2030-01-01T00:00:00Z","approved_agent_id":"agent_1"}}"#;

/// What one `read` of a request returned: its head, and the body bytes
/// that came with it.
struct FirstRead {
    head: String,
    body_in_read: usize,
    content_length: usize,
}

fn first_read(bytes: &[u8]) -> FirstRead {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head in the first read");
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let content_length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, value)| value.trim().parse().unwrap());
    FirstRead {
        body_in_read: bytes.len() - end - 4,
        head,
        content_length,
    }
}

#[test]
fn an_approve_arrives_as_one_read() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let (seen, requests) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let n = stream.read(&mut buffer).unwrap_or(0);
                if n == 0 {
                    break;
                }
                let read = first_read(&buffer[..n]);
                let answer = if read.head.starts_with("GET ") {
                    READ
                } else {
                    APPROVED
                };
                seen.send(read).unwrap();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                    answer.len()
                );
                stream.write_all(response.as_bytes()).unwrap();
            }
        }
    });

    let agent = lime_blocking::LimeAgent::builder()
        .token("at_one_write")
        .base_url(&base)
        .no_proxy()
        .build()
        .unwrap();
    assert_eq!(agent.login("lr_w").unwrap().request_id, "lr_w");

    let reads: Vec<FirstRead> = requests.try_iter().collect();
    let approve = reads
        .iter()
        .find(|r| r.head.starts_with("POST "))
        .expect("an approve");
    assert!(approve.content_length > 0, "{}", approve.head);
    assert_eq!(
        approve.body_in_read, approve.content_length,
        "the approve's body came in the same read as its head"
    );
}
