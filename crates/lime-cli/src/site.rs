//! `lime site`: the site's side, for operators and tests.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use lime_emulator::passport;
use lime_emulator::site::{SiteClient, SiteEvent};
use serde_json::json;

use crate::client::seconds;
use crate::report::{self, Failure, Kind, escape_controls};

#[derive(Debug, Subcommand)]
pub(crate) enum SiteCommand {
    /// Create a login request and print its id.
    Create(CreateArgs),
    /// Wait for a request's event: exit 0 when approved (now or earlier), 1
    /// when expired, 8 when no event came within --timeout.
    Wait(WaitArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SiteArgs {
    /// API root (else LIME_API_BASE): https://, or plain http:// to loopback
    /// unless --allow-http. IPv6 hosts go in brackets, as in `https://[::1]:8443/api/v1`.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Also trust the CA certificates in this PEM file (e.g. `lime serve --tls`'s).
    #[arg(long, value_name = "PATH")]
    ca_cert: Option<PathBuf>,
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
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = seconds, allow_negative_numbers = true)]
    timeout: Duration,
    #[command(flatten)]
    site: SiteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// The login request to wait for.
    request_id: String,
    /// Give up after this many seconds: the whole wait, connecting and
    /// verifying the passport included; no event by then exits 8.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = seconds, allow_negative_numbers = true)]
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
        let client = client.map_err(site_failure)?.with_tls(self.tls()?);
        tracing::debug!(target: "lime", base = %lime_core::settings::redact_url(&base), "site client ready");
        Ok((client, base))
    }

    /// The same trust as the agent commands: the bundled roots and `--ca-cert`.
    fn tls(&self) -> Result<std::sync::Arc<rustls::ClientConfig>, Failure> {
        use lime_core::drive::certificates_from_pem;
        use lime_tls as tls;
        let mut extra = Vec::new();
        if let Some(path) = &self.ca_cert {
            let pem = crate::client::read_file(path, "the CA file")?;
            extra = certificates_from_pem(&pem).map_err(|reason| {
                Failure::new(Kind::Config, format!("{}: {reason}", path.display()))
            })?;
        }
        let config = tls::client_config_with(tls::roots_with(&extra, None)?)?;
        Ok(std::sync::Arc::new(config))
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
            tracing::debug!(target: "lime", request_id = %created.request_id, "login request created");
            report::success(
                json_mode,
                &json!({
                    "request_id": created.request_id,
                    "status": created.status,
                    "expires_at": report::rfc3339_ms(&created.expires_at),
                }),
                &escape_controls(&created.request_id),
            );
            Ok(0)
        }
        SiteCommand::Wait(args) => {
            lime_core::settings::validate_request_id(&args.request_id)?;
            let (client, base) = args.site.client()?;
            let client = client.timeout(args.timeout);
            let started = tokio::time::Instant::now();
            let waited = tokio::time::timeout(args.timeout, async {
                // From the start of the stream: an approval that came before
                // the wait is replayed.
                let mut events = client.subscribe(Some("0")).await?;
                tracing::debug!(target: "lime", "subscribed to the site's event stream");
                let left = args.timeout.saturating_sub(started.elapsed());
                let event = events.wait_for(&args.request_id, left).await?;
                tracing::debug!(target: "lime", ?event, "event received");
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
            let waited_ms = started.elapsed().as_millis() as u64;
            match (event, jwks) {
                (SiteEvent::Approved { passport: jwt, .. }, Some(jwks)) => {
                    let issuer = origin_of(&base);
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    // A replayed approval's passport may have expired since:
                    // still verified (signature, audience, issuer), as of its
                    // issue, and reported as approved earlier.
                    let (claims, earlier) = match passport::verify(&jwt, &jwks, &issuer, now) {
                        Ok(claims) => (claims, false),
                        Err(e) if e.0 == "expired" => (
                            passport::verify_at_issue(&jwt, &jwks, &issuer)
                                .map_err(|e| Failure::new(Kind::InvalidResponse, e.to_string()))?,
                            true,
                        ),
                        Err(e) => return Err(Failure::new(Kind::InvalidResponse, e.to_string())),
                    };
                    tracing::debug!(target: "lime", earlier, "passport verified with the JWKS");
                    let passport = passport_json(&claims);
                    let agent = escape_controls(claims["sub"].as_str().unwrap_or_default());
                    let text = if earlier {
                        format!(
                            "approved earlier by {agent} (passport verified; it expired at {})",
                            passport["expires_at"].as_str().unwrap_or("-")
                        )
                    } else {
                        format!(
                            "approved by {agent} (passport verified: aud {}, iss {}, expires {})",
                            escape_controls(passport["audience"].as_str().unwrap_or_default()),
                            escape_controls(passport["issuer"].as_str().unwrap_or_default()),
                            passport["expires_at"].as_str().unwrap_or("-")
                        )
                    };
                    report::success(
                        json_mode,
                        &json!({
                            "event": "approved",
                            "request_id": args.request_id,
                            "approved_earlier": earlier,
                            "passport": passport,
                            "elapsed_ms": waited_ms,
                        }),
                        &text,
                    );
                    Ok(0)
                }
                _ => {
                    report::success(
                        json_mode,
                        &json!({ "event": "expired", "request_id": args.request_id, "elapsed_ms": waited_ms }),
                        "expired",
                    );
                    Ok(1)
                }
            }
        }
    }
}

/// The passport's claims as the CLI prints them: names that say what they
/// are, times in RFC 3339 (never raw unix seconds).
pub(crate) fn passport_json(claims: &serde_json::Value) -> serde_json::Value {
    let time = |name: &str| claims[name].as_i64().map(report::unix_to_rfc3339);
    json!({
        "agent_id": claims["sub"],
        "request_id": claims["request_id"],
        "audience": claims["aud"],
        "issuer": claims["iss"],
        "issued_at": time("iat"),
        "expires_at": time("exp"),
    })
}

/// A site error as a failure; a timeout says what was waited for (exit 8
/// for a wait that saw no event, 7 for a create with no answer).
fn timeout_failure(e: lime_emulator::site::SiteError, what: &str) -> Failure {
    match e {
        lime_emulator::site::SiteError::Timeout(after) => Failure::new(
            if what.starts_with("an event") {
                Kind::NoEvent
            } else {
                Kind::Transport
            },
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

/// A site-client error as the CLI reports it.
pub(crate) fn site_failure(e: lime_emulator::site::SiteError) -> Failure {
    use lime_emulator::site::SiteError;
    match e {
        SiteError::BaseUrl(m) => Failure::new(Kind::Config, m),
        SiteError::Api {
            status,
            code,
            message,
        } => {
            let kind = if status == 401 {
                Kind::Authentication
            } else {
                Kind::Api
            };
            let mut f = Failure::new(kind, message);
            f.code = Some(code);
            f.http_status = Some(status);
            f
        }
        other => Failure::new(Kind::Transport, other.to_string()),
    }
}
