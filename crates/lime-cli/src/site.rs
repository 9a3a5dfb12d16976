//! `lime site`: the site's side, for operators and tests.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use lime_emulator::passport;
use lime_emulator::site::{SiteClient, SiteEvent};
use serde_json::json;

use crate::client::seconds;
use crate::demo::site_failure;
use crate::report::{self, Failure, Kind, escape_controls};

#[derive(Debug, Subcommand)]
pub(crate) enum SiteCommand {
    /// Create a login request and print its id.
    Create(CreateArgs),
    /// Wait for a request's event: exit 0 when approved, 1 when expired.
    Wait(WaitArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SiteArgs {
    /// API root (else LIME_API_BASE). Plain http:// only, to loopback unless
    /// --allow-http.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Read the site token from this file (else LIME_SITE_TOKEN).
    #[arg(long, value_name = "PATH")]
    site_token_file: Option<PathBuf>,
    /// Allow plain http:// to a host that is not loopback (the site token
    /// travels unencrypted).
    #[arg(long)]
    allow_http: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Give up after this many seconds (connect, headers and body); a
    /// timeout exits 7.
    #[arg(long, default_value = "30", value_parser = seconds, allow_negative_numbers = true)]
    timeout: Duration,
    #[command(flatten)]
    site: SiteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// The login request to wait for.
    request_id: String,
    /// Give up after this many seconds: the whole wait, connecting and
    /// verifying the passport included; a timeout exits 7.
    #[arg(long, default_value = "60", value_parser = seconds, allow_negative_numbers = true)]
    timeout: Duration,
    #[command(flatten)]
    site: SiteArgs,
}

impl SiteArgs {
    fn client(&self) -> Result<(SiteClient, String), Failure> {
        let base = self
            .base_url
            .clone()
            .or_else(|| std::env::var("LIME_API_BASE").ok())
            .ok_or_else(|| {
                Failure::new(
                    Kind::Config,
                    "no base URL: pass --base-url or set LIME_API_BASE",
                )
            })?;
        let token = match &self.site_token_file {
            Some(path) => crate::client::read_token_file(path, "site token file")?,
            None => zeroize::Zeroizing::new(std::env::var("LIME_SITE_TOKEN").unwrap_or_default()),
        };
        let token = token.trim().to_owned();
        if token.is_empty() {
            return Err(Failure::new(
                Kind::Authentication,
                "no site token: set LIME_SITE_TOKEN or pass --site-token-file PATH",
            ));
        }
        let client = if self.allow_http {
            SiteClient::new_allow_http(&base, &token)
        } else {
            SiteClient::new(&base, &token)
        };
        Ok((client.map_err(site_failure)?, base))
    }
}

pub(crate) async fn run(command: SiteCommand, json_mode: bool) -> Result<u8, Failure> {
    match command {
        SiteCommand::Create(args) => {
            let (client, _) = args.site.client()?;
            let created = client
                .timeout(args.timeout)
                .create_request()
                .await
                .map_err(|e| timeout_failure(e, "the create request"))?;
            report::success(
                json_mode,
                &json!({
                    "request_id": created.request_id,
                    "status": created.status,
                    "expires_at": created.expires_at,
                }),
                &escape_controls(&created.request_id),
            );
            Ok(0)
        }
        SiteCommand::Wait(args) => {
            let (client, base) = args.site.client()?;
            let client = client.timeout(args.timeout);
            let started = tokio::time::Instant::now();
            let waited = tokio::time::timeout(args.timeout, async {
                let mut events = client.subscribe(Some("0")).await?;
                let left = args.timeout.saturating_sub(started.elapsed());
                let event = events.wait_for(&args.request_id, left).await?;
                let jwks = match &event {
                    SiteEvent::Approved { .. } => Some(client.jwks().await?),
                    _ => None,
                };
                Ok::<_, lime_emulator::site::SiteError>((event, jwks))
            })
            .await;
            let what = format!("an event for {}", escape_controls(&args.request_id));
            let (event, jwks) = match waited {
                Ok(result) => result.map_err(|e| timeout_failure(e, &what))?,
                Err(_) => {
                    return Err(timeout_failure(
                        lime_emulator::site::SiteError::Timeout(args.timeout),
                        &what,
                    ));
                }
            };
            match (event, jwks) {
                (SiteEvent::Approved { passport: jwt, .. }, Some(jwks)) => {
                    let issuer = origin_of(&base);
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    let claims = passport::verify(&jwt, &jwks, &issuer, now)
                        .map_err(|e| Failure::new(Kind::InvalidResponse, e.to_string()))?;
                    report::success(
                        json_mode,
                        &json!({ "event": "approved", "request_id": args.request_id, "claims": claims }),
                        &format!(
                            "approved by {} (passport verified: aud {}, iss {}, exp {})",
                            escape_controls(claims["sub"].as_str().unwrap_or_default()),
                            escape_controls(claims["aud"].as_str().unwrap_or_default()),
                            escape_controls(claims["iss"].as_str().unwrap_or_default()),
                            claims["exp"]
                        ),
                    );
                    Ok(0)
                }
                _ => {
                    report::success(
                        json_mode,
                        &json!({ "event": "expired", "request_id": args.request_id }),
                        "expired",
                    );
                    Ok(1)
                }
            }
        }
    }
}

/// A site error as a failure; a timeout says what was waited for (exit 7).
fn timeout_failure(e: lime_emulator::site::SiteError, what: &str) -> Failure {
    match e {
        lime_emulator::site::SiteError::Timeout(after) => Failure::new(
            Kind::Transport,
            format!(
                "no answer for {what} within {:.1} s (--timeout)",
                after.as_secs_f64()
            ),
        ),
        other => site_failure(other),
    }
}

/// `scheme://host:port` of a base URL: the passports' expected `iss`.
fn origin_of(base: &str) -> String {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base[after_scheme..].find('/') {
        Some(i) => base[..after_scheme + i].to_owned(),
        None => base.to_owned(),
    }
}
