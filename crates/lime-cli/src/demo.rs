//! `lime demo`: the full login cycle, site and agent, against an embedded emulator.

use std::time::{Duration, Instant};

use clap::Args;
use lime_core::PowSchemeChoice;
use lime_core::lime_pow::Scheme;
use lime_emulator::Emulator;
use lime_tokio::LimeAgent;
use lime_tokio::site::{Events, LimeSite, LoginRequest, SiteEvent, VerifiedPassport};
use serde_json::json;

use crate::client::SchemeChoiceArg;
use crate::report::{Failure, Kind, Stream, paint};

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Proof-of-work difficulty the emulator asks for (at most 256).
    #[arg(long, default_value_t = 15, allow_negative_numbers = true, value_parser = crate::client::difficulty)]
    difficulty: i64,
    /// The scheme the agent uses (with auto the emulator verifies v1 and names it).
    #[arg(long, value_enum, default_value_t = SchemeChoiceArg::Auto)]
    scheme: SchemeChoiceArg,
}

/// Prints timeline lines unless `--json`.
struct Timeline {
    start: Instant,
    quiet: bool,
}

impl Timeline {
    fn step(&self, actor: &str, text: &str) {
        if !self.quiet {
            let t = self.start.elapsed().as_secs_f64();
            println!(
                "{t:>7.3}s  {}  {text}",
                paint(Stream::Stdout, &format!("{actor:<8}"), "36")
            );
        }
    }
}

/// The demo MCP server's host name (resolved to its loopback port).
const MCP_DOMAIN: &str = "mcp.lime.demo";

/// The demo in its phases: emulator, site, agent login, the site's
/// passport, MCP, then the summary.
pub(crate) async fn run(args: DemoArgs, json_mode: bool) -> Result<u8, Failure> {
    let choice: PowSchemeChoice = args.scheme.into();
    let server_scheme = match choice {
        PowSchemeChoice::Legacy => Scheme::Legacy,
        _ => Scheme::V1,
    };
    let line = Timeline {
        start: Instant::now(),
        quiet: json_mode,
    };
    if !json_mode {
        println!(
            "lime demo: one agent login and one MCP tool call, end to end, against a local LIME emulator\n"
        );
    }
    let emulator = start_emulator(args.difficulty, server_scheme, &line).await?;
    // Everyone trusts the emulator's CA, generated at start.
    let ca = emulator.ca_pem().unwrap_or_default().to_owned();
    let (site, mut events, created) = open_site(&emulator, &ca, &line).await?;
    let agent = agent_for(&emulator, &ca, choice)?;
    let (approval, pow) = log_in(&agent, &created.request_id, &line).await?;
    let (event_id, passport) =
        receive_passport(&site, &mut events, &created.request_id, &line).await?;
    let status = emulator
        .request_status(&created.request_id)
        .unwrap_or("UNKNOWN");
    line.step(
        "emulator",
        &format!("request {} is {status}", created.request_id),
    );
    if status != "DELIVERED" {
        return Err(Failure::new(
            Kind::Api,
            format!("the request ended {status}, not DELIVERED"),
        ));
    }
    let mcp = call_mcp(&agent, &emulator, &line).await?;
    if json_mode {
        // Everything the timeline shows, with the units every command uses.
        let mut approval_json = crate::report::to_json(&approval)?;
        approval_json["pow"] = crate::report::to_json(&pow)?;
        println!(
            "{}",
            json!({
                "request_id": created.request_id,
                "status": status,
                "emulator": {
                    "base_url": emulator.base_url(),
                    "difficulty": args.difficulty,
                    "scheme": server_scheme.as_str(),
                },
                "created": {
                    "status": created.status.as_str(),
                    "expires_at": crate::report::time_ms(created.expires_at),
                },
                "login": approval_json,
                "event": { "type": "approved", "event_id": event_id },
                "passport": crate::site::passport_json(&passport, emulator.origin()),
                "mcp": mcp,
                "elapsed_ms": line.start.elapsed().as_millis() as u64,
            })
        );
    } else {
        println!(
            "\n{} login and MCP call confirmed end to end in {:.0} ms",
            paint(Stream::Stdout, "done:", "32;1"),
            line.start.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(0)
}

/// The emulator over HTTPS, with its MCP server.
async fn start_emulator(
    difficulty: i64,
    scheme: Scheme,
    line: &Timeline,
) -> Result<Emulator, Failure> {
    let mut builder = Emulator::builder()
        .difficulty(difficulty)
        .scheme(scheme)
        .tls(lime_emulator::TlsSource::Generated)
        .mcp_domain(MCP_DOMAIN);
    // RSA generation was most of a demo's time: the key is made once.
    if let Some(cache) = dirs::cache_dir() {
        builder = builder.signing_key_cache(cache.join("lime").join("demo-signing-key.der"));
    }
    let emulator = builder
        .start()
        .await
        .map_err(|e| Failure::new(Kind::Transport, format!("cannot start the emulator: {e}")))?;
    line.step(
        "emulator",
        &format!(
            "listening at {} (difficulty {difficulty}, scheme {scheme}), MCP server at {}",
            emulator.base_url(),
            emulator.mcp_url().unwrap_or_default()
        ),
    );
    Ok(emulator)
}

/// The site, trusting the emulator's CA: its event stream, then a login
/// request.
async fn open_site(
    emulator: &Emulator,
    ca: &str,
    line: &Timeline,
) -> Result<(LimeSite, Events, LoginRequest), Failure> {
    let site = LimeSite::builder()
        .token(emulator.site_token())
        .base_url(emulator.base_url())
        .add_root_certificates_pem(ca.as_bytes())
        .no_proxy()
        .build()?;
    // Connected at its first read; events until then are held for it.
    let events = site.events();
    let created = site.create_login_request().await?;
    line.step(
        "site",
        &format!(
            "created login request {} ({}, expires {})",
            created.request_id,
            created.status.as_str(),
            crate::report::time_ms(created.expires_at)
        ),
    );
    Ok((site, events, created))
}

/// The agent, trusting the emulator's CA and finding its MCP server.
fn agent_for(emulator: &Emulator, ca: &str, choice: PowSchemeChoice) -> Result<LimeAgent, Failure> {
    let mut agent = LimeAgent::builder()
        .token(emulator.agent_token())
        .base_url(emulator.base_url())
        .pow_scheme(choice)
        .add_root_certificates_pem(ca.as_bytes())
        .no_proxy();
    if let Some(addr) = emulator.mcp_addr() {
        // The MCP server's name, resolved to its loopback port.
        agent = agent.resolve(MCP_DOMAIN, addr);
    }
    Ok(agent.build()?)
}

/// The agent's login: read, solve (with progress on a terminal), approve.
async fn log_in(
    agent: &LimeAgent,
    request_id: &str,
    line: &Timeline,
) -> Result<(lime_tokio::ApprovalResult, lime_tokio::PowStats), Failure> {
    line.step(
        "agent",
        &format!("login {request_id}: reading the challenge, solving, approving"),
    );
    let progress = lime_core::lime_pow::Progress::new();
    let spinner = crate::spinner::Spinner::start(progress.clone());
    let report = agent
        .login_with_progress(request_id, progress)
        .await
        .map_err(lime_tokio::Error::from);
    drop(spinner);
    let report = report?;
    let (approval, pow) = (report.approval, report.pow);
    let solve_ms = pow.elapsed.as_secs_f64() * 1000.0;
    line.step(
        "agent",
        &format!(
            "solved difficulty {} ({}) with {} hashes in {solve_ms:.1} ms",
            pow.difficulty,
            pow.scheme.map_or("-", Scheme::as_str),
            pow.hashes
        ),
    );
    line.step(
        "agent",
        &format!(
            "approved: status {}, site {}",
            approval.status, approval.site_id
        ),
    );
    Ok((approval, pow))
}

/// The site's `approved` event and its passport, verified with the JWKS.
async fn receive_passport(
    site: &LimeSite,
    events: &mut Events,
    request_id: &str,
    line: &Timeline,
) -> Result<(Option<String>, VerifiedPassport), Failure> {
    let next = async {
        loop {
            let event = events.next().await?;
            if event.request_id() == Some(request_id) {
                return Ok::<_, lime_tokio::Error>(event);
            }
        }
    };
    let event = tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .map_err(|_| Failure::new(Kind::NoEvent, "no event for the request within 10 s"))??;
    let SiteEvent::Approved {
        passport, event_id, ..
    } = event
    else {
        return Err(Failure::new(
            Kind::Api,
            format!("the site received {event:?} instead of an approval"),
        ));
    };
    line.step(
        "site",
        &format!(
            "received the `approved` event (id {})",
            event_id.as_deref().unwrap_or_default()
        ),
    );
    let verified = site.verify_passport(passport.as_str(), request_id).await?;
    line.step(
        "site",
        &format!(
            "passport verified with the JWKS: sub={} aud={} iss={} valid {} s",
            verified.agent_id,
            lime_core::site::PASSPORT_AUDIENCE,
            site.config().base_url().origin(),
            verified.expires_at - verified.issued_at,
        ),
    );
    Ok((event_id, verified))
}

/// A token for the MCP server's domain, then a tool call with it; what
/// `--json` shows of it.
async fn call_mcp(
    agent: &LimeAgent,
    emulator: &Emulator,
    line: &Timeline,
) -> Result<serde_json::Value, Failure> {
    let mcp_url = emulator.mcp_url().unwrap_or_default();
    let token = agent.mcp_access_token(&mcp_url).await?;
    line.step(
        "agent",
        &format!(
            "minted an MCP access token for {} ({} s)",
            token.domain(),
            token.expires_in().as_secs()
        ),
    );
    let whoami = agent
        .call_tool(&mcp_url, "whoami", serde_json::Map::new())
        .await?;
    let whoami_json = crate::report::to_json(&whoami)?;
    let answer = whoami_json["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    line.step("mcp", &format!("whoami over HTTPS answered {answer}"));
    Ok(json!({
        "url": mcp_url,
        "domain": token.domain(),
        "expires_in": token.expires_in().as_secs(),
        "whoami": serde_json::from_str::<serde_json::Value>(&answer).unwrap_or_default(),
    }))
}
