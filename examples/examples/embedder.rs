//! Driving `lime-core` over your own transport: here a minimal HTTP/1.1
//! client on `std::net::TcpStream` (plain HTTP, loopback only). This is all
//! an adapter is: poll the flow, do what it says, feed the result back.
//!
//! ```text
//! cargo run -p lime-examples --example embedder
//! ```
#![allow(clippy::print_stdout)]
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use lime_core::{
    Config, Login,
    drive::{HttpRequest, HttpResponse, Output, TransportError, TransportErrorKind},
};
use lime_examples::Playground;

/// One HTTP/1.0 exchange (the body ends when the connection closes, so no
/// chunked decoding is needed); no redirects, no TLS.
fn send(request: &HttpRequest, deadline: Instant) -> Result<HttpResponse, TransportError> {
    let lost =
        |e: std::io::Error| TransportError::new(TransportErrorKind::ConnectionLost, e.to_string());
    let authority = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    let mut stream = TcpStream::connect(&authority)
        .map_err(|e| TransportError::new(TransportErrorKind::Connect, e.to_string()))?;
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(std::time::Duration::from_millis(1));
    stream.set_read_timeout(Some(left)).map_err(lost)?;
    let mut head = format!(
        "{} {} HTTP/1.0\r\nHost: {authority}\r\n",
        request.method(),
        request.uri().path()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().unwrap_or_default()
        ));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", request.body().len()));
    stream.write_all(head.as_bytes()).map_err(lost)?;
    stream.write_all(request.body()).map_err(lost)?;

    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).map_err(lost)?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut response = http::Response::builder().status(status);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(lost)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            response = response.header(name.trim(), value.trim());
        }
    }
    let mut body = Vec::new();
    reader.take(1 << 20).read_to_end(&mut body).map_err(lost)?;
    response
        .body(body)
        .map_err(|e| TransportError::new(TransportErrorKind::Other, e.to_string()))
}

fn main() -> Result<(), lime_core::Error> {
    let mut playground = Playground::start(12);
    let config = Config::builder()
        .token(&playground.token)
        .base_url(&playground.base_url)
        .build()?;
    let request_id = playground.next_request().unwrap_or_default();
    let mut login = Login::new(&config, &request_id, Instant::now())?;
    let approval = loop {
        match login.poll_output() {
            Output::Send(transmit) => {
                println!(
                    "  -> {} {}",
                    transmit.request.method(),
                    transmit.request.uri().path()
                );
                match send(&transmit.request, transmit.deadline) {
                    Ok(response) => login.handle_response(response, Instant::now()),
                    Err(error) => login.handle_transport_error(error, Instant::now()),
                }
            }
            Output::Solve(task) => {
                println!(
                    "  .. solving difficulty {} ({})",
                    task.difficulty(),
                    task.scheme()
                );
                let outcome = task.run();
                login.handle_solution(outcome, Instant::now());
            }
            Output::Wait(until) => {
                std::thread::sleep(until.saturating_duration_since(Instant::now()));
                login.handle_timeout(Instant::now());
            }
            Output::Done(result) => break result?,
        }
    };
    println!(
        "confirmed {} for site {}: {}",
        approval.request_id, approval.site_id, approval.status
    );
    Ok(())
}
