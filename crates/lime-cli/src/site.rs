//! `lime site`: the site's side, for operators and tests.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use lime_core::site::PASSPORT_AUDIENCE;
use lime_tokio::site::{LimeSite, Outcome, VerifiedPassport};
use serde_json::json;

use crate::client::{read_file, read_token_file, seconds};
use crate::report::{self, Failure, Kind, escape_controls};

#[derive(Debug, Subcommand)]
pub(crate) enum SiteCommand {
    /// Create a login request and print its id.
    Create(CreateArgs),
    /// Wait for a request's event: exit 0 when approved (now or earlier), 1
    /// when expired, 8 when no event came within --timeout; an unknown id
    /// fails at once.
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
    /// The site, configured as the agent commands are: the bundled roots and
    /// `--ca-cert`, the proxy variables, `--timeout` per request.
    fn site(&self, timeout: Duration) -> Result<LimeSite, Failure> {
        let mut builder = LimeSite::builder()
            .timeout(timeout)
            .allow_http(self.allow_http);
        if let Some(url) = &self.base_url {
            builder = builder.base_url(url);
        }
        if let Some(path) = &self.site_token_file {
            builder = builder.token(read_token_file(path, "site token file")?.as_str());
        }
        if let Some(path) = &self.ca_cert {
            builder = builder.add_root_certificates_pem(&read_file(path, "the CA file")?);
        }
        let site = builder.build()?;
        tracing::debug!(target: "lime", base = %site.config().base_url(), "site client ready");
        Ok(site)
    }
}

pub(crate) async fn run(command: SiteCommand, json_mode: bool) -> Result<u8, Failure> {
    match command {
        SiteCommand::Create(args) => {
            let created = args.site.site(args.timeout)?.create_login_request().await?;
            tracing::debug!(target: "lime", request_id = %created.request_id, "login request created");
            report::success(
                json_mode,
                &json!({
                    "request_id": created.request_id,
                    "status": created.status.as_str(),
                    "expires_at": report::time_ms(created.expires_at),
                }),
                &escape_controls(&created.request_id),
            );
            Ok(0)
        }
        SiteCommand::Wait(args) => wait(args, json_mode).await,
    }
}

async fn wait(args: WaitArgs, json_mode: bool) -> Result<u8, Failure> {
    lime_core::settings::validate_request_id(&args.request_id)?;
    let site = args.site.site(args.timeout)?;
    let started = tokio::time::Instant::now();
    // The whole wait, the status read and the passport's key fetch included.
    let outcome = tokio::time::timeout(args.timeout, site.wait(&args.request_id, args.timeout))
        .await
        .unwrap_or(Ok(Outcome::TimedOut))?;
    let waited_ms = started.elapsed().as_millis() as u64;
    let id = &args.request_id;
    match outcome {
        Outcome::Approved(passport) => {
            tracing::debug!(target: "lime", "passport verified with the JWKS");
            let passport = passport_json(&passport, site.config().base_url().origin());
            let text = format!(
                "approved by {} (passport verified: aud {}, iss {}, expires {})",
                escape_controls(passport["agent_id"].as_str().unwrap_or_default()),
                PASSPORT_AUDIENCE,
                escape_controls(passport["issuer"].as_str().unwrap_or_default()),
                passport["expires_at"].as_str().unwrap_or("-")
            );
            let value = json!({
                "event": "approved", "request_id": id, "approved_earlier": false,
                "passport": passport, "elapsed_ms": waited_ms,
            });
            report::success(json_mode, &value, &text);
            Ok(0)
        }
        Outcome::ApprovedWithoutPassport { agent_id } => {
            let agent = agent_id.as_deref().unwrap_or("an agent");
            let text = format!(
                "approved earlier by {} (the service holds no valid passport for it any more)",
                escape_controls(agent)
            );
            let value = json!({
                "event": "approved", "request_id": id, "approved_earlier": true,
                "agent_id": agent_id, "passport": null, "elapsed_ms": waited_ms,
            });
            report::success(json_mode, &value, &text);
            Ok(0)
        }
        Outcome::Expired => {
            let value = json!({ "event": "expired", "request_id": id, "elapsed_ms": waited_ms });
            report::success(json_mode, &value, "expired");
            Ok(1)
        }
        _ => Err(Failure::new(
            Kind::NoEvent,
            format!(
                "no event for {} within {:.1} s (--timeout)",
                escape_controls(id),
                args.timeout.as_secs_f64()
            ),
        )),
    }
}

/// A verified passport as the CLI prints it: names that say what they
/// are, times in RFC 3339 (never raw unix seconds).
pub(crate) fn passport_json(passport: &VerifiedPassport, issuer: &str) -> serde_json::Value {
    json!({
        "agent_id": passport.agent_id,
        "request_id": passport.request_id,
        "audience": PASSPORT_AUDIENCE,
        "issuer": issuer,
        "issued_at": report::unix_to_rfc3339(passport.issued_at),
        "expires_at": report::unix_to_rfc3339(passport.expires_at),
    })
}
