//! A site's backend in axum that lets agents sign in with LIME: `POST
//! /login` creates a login request and returns its id (the user hands it to
//! their agent), one task follows the site's event stream and marks the
//! request signed in once its passport verifies, `GET /login/{id}` says who
//! signed in. The example plays the user too: it starts a login over HTTP,
//! has an agent (`LimeAgent`) approve it, and polls until signed in.
//! Runs against an embedded emulator unless `LIME_API_BASE` is set (then
//! with `LIME_SITE_TOKEN` and `LIME_AGENT_TOKEN`).
//!
//! ```text
//! cargo run -p lime-examples --example site_backend
//! ```
#![allow(clippy::print_stdout)]
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lime_tokio::LimeAgent;
use lime_tokio::site::{LimeSite, SiteEvent};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Who signed in, by login request: `None` while pending.
type Sessions = Arc<Mutex<HashMap<String, Option<String>>>>;

#[derive(Clone)]
struct App {
    site: LimeSite,
    sessions: Sessions,
}

async fn start_login(State(app): State<App>) -> Result<Json<Value>, StatusCode> {
    let request = app
        .site
        .create_login_request()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    let mut sessions = app.sessions.lock().unwrap_or_else(|p| p.into_inner());
    sessions.insert(request.request_id.clone(), None);
    Ok(Json(json!({ "request_id": request.request_id })))
}

async fn login_status(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, StatusCode> {
    let sessions = app.sessions.lock().unwrap_or_else(|p| p.into_inner());
    let agent = sessions.get(&id).ok_or(StatusCode::NOT_FOUND)?;
    Ok(Json(
        json!({ "signed_in": agent.is_some(), "agent_id": agent }),
    ))
}

/// The site's one event stream: reconnects and resumes by itself; a
/// passport counts once it verifies for the request this site created.
async fn follow_events(site: LimeSite, sessions: Sessions) {
    let mut events = site.events();
    loop {
        let event = match events.next().await {
            Ok(event) => event,
            Err(error) => return eprintln!("event stream stopped: {error}"),
        };
        let SiteEvent::Approved {
            request_id,
            passport,
            ..
        } = event
        else {
            continue;
        };
        match site.verify_passport(passport.as_str(), &request_id).await {
            Ok(verified) => {
                let mut sessions = sessions.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(slot) = sessions.get_mut(&request_id) {
                    *slot = Some(verified.agent_id);
                }
            }
            Err(error) => eprintln!("passport for {request_id} refused: {error}"),
        }
    }
}

/// One HTTP/1.1 exchange with the backend, as the user's browser makes it.
async fn browser(addr: std::net::SocketAddr, method: &str, path: &str) -> Value {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the backend listens");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("the request is sent");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("the answer arrives");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = match std::env::var("LIME_API_BASE") {
        Ok(base) if !base.is_empty() => None,
        _ => Some(lime_emulator::Emulator::builder().start().await?),
    };
    let (mut site, mut agent) = (LimeSite::builder(), LimeAgent::builder());
    if let Some(emulator) = &emulator {
        site = site
            .token(emulator.site_token())
            .base_url(emulator.base_url());
        agent = agent
            .token(emulator.agent_token())
            .base_url(emulator.base_url());
    }
    let (site, agent) = (site.build()?, agent.build()?);

    let sessions = Sessions::default();
    tokio::spawn(follow_events(site.clone(), sessions.clone()));
    let app = Router::new()
        .route("/login", post(start_login))
        .route("/login/{id}", get(login_status))
        .with_state(App { site, sessions });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("site backend at http://{addr}");

    // The user starts a login and hands the id to their agent.
    let started = browser(addr, "POST", "/login").await;
    let request_id = started["request_id"]
        .as_str()
        .ok_or("no request id")?
        .to_owned();
    println!("login request {request_id} created");
    agent.login(&request_id).await?;
    println!("the agent approved it");
    for _ in 0..100 {
        let status = browser(addr, "GET", &format!("/login/{request_id}")).await;
        if status["signed_in"] == true {
            println!("signed in as {}", status["agent_id"]);
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("no verified passport within 5 s".into())
}
