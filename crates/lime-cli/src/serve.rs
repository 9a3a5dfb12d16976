//! `lime serve`: the emulator as a process.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use lime_core::lime_pow::Scheme;
use lime_emulator::{Emulator, Fault, RawBody, Route, StartError, TlsSource};
use serde_json::json;

use crate::client::seconds;
use crate::report::{Failure, Kind};

#[derive(Debug, Args)]
#[command(after_long_help = "\
Fault flags (repeatable) script what the next calls of a route get. Routes:
read, approve, profile, create, events, jwks, oauth, other; and the MCP
server's: mcp (every request; --fail mcp:401:N refuses N tokens) and mcp-call
(a tools/call once received; --drop mcp-call:N drops N calls unrun).")]
pub(crate) struct ServeArgs {
    /// Port (0: an ephemeral one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// PoW difficulty of new requests (at most 256).
    #[arg(long, default_value_t = 15, allow_negative_numbers = true, value_parser = crate::client::difficulty)]
    difficulty: i64,
    /// The scheme approves are verified with.
    #[arg(long, value_enum, default_value_t = crate::client::SchemeArg::V1)]
    scheme: crate::client::SchemeArg,
    /// Leave `pow_scheme` out of request reads.
    #[arg(long)]
    hide_scheme: bool,
    /// Seconds a request stays pending.
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = seconds, allow_negative_numbers = true)]
    ttl: Duration,
    /// The agent token to accept (generated when absent). Visible to other
    /// users in the process list: prefer --agent-token-file.
    #[arg(long, value_name = "TOKEN", conflicts_with = "agent_token_file")]
    agent_token: Option<String>,
    /// Read the agent token to accept from this file.
    #[arg(long, value_name = "PATH")]
    agent_token_file: Option<PathBuf>,
    /// The site token to accept (generated when absent). Visible to other
    /// users in the process list: prefer --site-token-file.
    #[arg(long, value_name = "TOKEN", conflicts_with = "site_token_file")]
    site_token: Option<String>,
    /// Read the site token to accept from this file.
    #[arg(long, value_name = "PATH")]
    site_token_file: Option<PathBuf>,
    /// Serve HTTPS with a certificate signed by a CA generated now; the CA is
    /// written to a new file (printed as ca_pem_path) for clients to trust:
    /// --ca-out, else a fresh private directory removed at exit.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls: bool,
    /// With --tls: write the CA here (a new file, mode 0600; never replaced).
    #[arg(long, value_name = "PATH", requires = "tls")]
    ca_out: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) for --tls-cert.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Answer STATUS with an error envelope COUNT times (with Retry-After:
    /// RETRY_AFTER seconds when given).
    #[arg(long, value_name = "ROUTE:STATUS:COUNT[:RETRY_AFTER]")]
    fail: Vec<String>,
    /// Close the connection without answering, COUNT times.
    #[arg(long, value_name = "ROUTE:COUNT")]
    drop: Vec<String>,
    /// The handler panics COUNT times (the connection closes, the server
    /// logs it and goes on).
    #[arg(long, value_name = "ROUTE:COUNT")]
    panic: Vec<String>,
    /// Wait MS milliseconds before the headers, on every call.
    #[arg(long, value_name = "ROUTE:MS")]
    delay: Vec<String>,
    /// Process the approve, then drop the connection, COUNT times.
    #[arg(long, value_name = "COUNT")]
    ambiguous_approve: Option<u32>,
    /// Answer 429 above PER_SEC calls a second.
    #[arg(long, value_name = "ROUTE:PER_SEC")]
    rate_limit: Vec<String>,
    /// Answer 307 to another origin (which counts the tokens it is sent),
    /// COUNT times.
    #[arg(long, value_name = "ROUTE:COUNT")]
    redirect: Vec<String>,
    /// Send the body BYTES at a time, MS milliseconds apart, on every call.
    #[arg(long, value_name = "ROUTE:BYTES:MS")]
    trickle: Vec<String>,
    /// Answer STATUS with BODY as is (content-type JSON) COUNT times. BODY
    /// is text (colons allowed), @PATH for a file's bytes, huge:LEN for LEN
    /// bytes of '[', or endless for a body that never ends.
    #[arg(long, value_name = "ROUTE:STATUS:COUNT:BODY")]
    raw: Vec<String>,
    /// Open connections allowed at once; more are closed as they arrive.
    #[arg(long, value_name = "N", default_value_t = lime_emulator::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Seconds a client has for each phase: TLS handshake, request headers,
    /// request body.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds, allow_negative_numbers = true)]
    client_timeout: Duration,
    /// Lifetime in seconds of the MCP access tokens it mints (`expires_in`).
    #[arg(long, value_name = "SECONDS", default_value = "600", value_parser = seconds, allow_negative_numbers = true)]
    mcp_token_ttl: Duration,
    /// The agent lacks the oauth:mcp grant: its mints answer 403 access_denied.
    #[arg(long)]
    no_mcp_grant: bool,
    /// Also serve an MCP server for DOMAIN on a loopback port of its own
    /// (HTTPS with --tls, the certificate naming DOMAIN too). Clients reach
    /// it with --resolve DOMAIN:PORT:127.0.0.1.
    #[arg(long, value_name = "DOMAIN")]
    mcp_domain: Option<String>,
    /// Sign passports with this RSA key (PKCS#8 PEM) instead of a generated one.
    #[arg(long, value_name = "PATH")]
    signing_key: Option<std::path::PathBuf>,
    /// How to print where it listens: text, json (as --json), or env (POSIX
    /// `export` lines a shell can source, e.g. from `lime serve --format
    /// env > lime.env &`).
    #[arg(long, value_enum, default_value_t = ServeFormat::Text)]
    format: ServeFormat,
}

/// `serve --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ServeFormat {
    Text,
    Json,
    Env,
}

/// The host name of the emulator's MCP URL, read by the SDK's own target
/// parser (the URL was built from a domain that parser accepted).
fn mcp_domain(url: &str) -> String {
    lime_core::mcp::McpTarget::parse(url, true)
        .map(|target| target.domain().to_owned())
        .unwrap_or_default()
}

/// `value` quoted for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

fn parts<const N: usize>(spec: &str, flag: &str) -> Result<[String; N], Failure> {
    let pieces: Vec<String> = spec.split(':').map(str::to_owned).collect();
    pieces.try_into().map_err(|_| {
        Failure::invalid_input(format!(
            "--{flag} {spec:?}: expected {N} parts separated by ':'"
        ))
    })
}

/// A `--raw` body: `@PATH`, `huge:LEN`, `endless`, or the text itself.
fn raw_body(spec: &str) -> Result<RawBody, Failure> {
    if let Some(path) = spec.strip_prefix('@') {
        return crate::client::read_file(std::path::Path::new(path), "the --raw body file")
            .map(RawBody::Bytes);
    }
    if let Some(len) = spec.strip_prefix("huge:") {
        return Ok(RawBody::Repeat {
            byte: b'[',
            len: number(len, "huge body length")?,
        });
    }
    if spec == "endless" {
        return Ok(RawBody::Endless);
    }
    Ok(RawBody::Bytes(spec.as_bytes().to_vec()))
}

fn route(name: &str) -> Result<Route, Failure> {
    name.parse().map_err(Failure::invalid_input)
}

fn number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, Failure> {
    s.parse()
        .map_err(|_| Failure::invalid_input(format!("{what} {s:?} is not a number")))
}

/// `lime serve` in its phases: build the emulator from the flags, start it,
/// script its faults, say where it listens, then wait for a stop.
pub(crate) async fn run(args: ServeArgs, json_mode: bool) -> Result<u8, Failure> {
    let emulator = builder(&args)?.start().await.map_err(|e| match e {
        // The emulator refuses tokens an empty header could match.
        StartError::Token => {
            Failure::invalid_input(format!("{e}; give tokens of visible characters"))
        }
        e => Failure::new(Kind::Config, e.to_string()),
    })?;
    script_faults(&emulator, &args)?;
    let ca_file = match emulator.ca_pem() {
        Some(pem) => Some(CaFile::write(pem, args.ca_out.as_deref())?),
        None => None,
    };
    let ca_pem_path = ca_file.as_ref().map(|f| f.path.clone());
    let format = if json_mode {
        ServeFormat::Json
    } else {
        args.format
    };
    announce(&emulator, format, ca_pem_path.as_deref());
    wait_for_stop().await;
    emulator.shutdown();
    drop(ca_file);
    Ok(0)
}

/// The emulator the flags describe: bind, puzzle, limits, tokens, keys, TLS.
fn builder(args: &ServeArgs) -> Result<lime_emulator::EmulatorBuilder, Failure> {
    let scheme: Scheme = args.scheme.into();
    let mut builder = Emulator::builder()
        .bind(SocketAddr::new(args.bind, args.port))
        .difficulty(args.difficulty)
        .scheme(scheme)
        .hide_scheme(args.hide_scheme)
        .ttl(args.ttl)
        .max_connections(args.max_connections)
        .client_timeout(args.client_timeout);
    let agent_token = token_arg(&args.agent_token, &args.agent_token_file, "agent")?;
    builder = builder
        .mcp_token_ttl(args.mcp_token_ttl)
        .mcp_grant(!args.no_mcp_grant);
    if let Some(domain) = &args.mcp_domain {
        // The domain policy the SDK applies, checked up front.
        let target = lime_core::mcp::McpTarget::parse(domain, true)
            .map_err(|e| Failure::invalid_input(format!("--mcp-domain: {e}")))?;
        builder = builder.mcp_domain(target.domain());
    }
    if let Some(token) = &agent_token {
        builder = if args.no_mcp_grant {
            builder.agent_without_mcp_grant("agent_local", token)
        } else {
            builder.agent("agent_local", token)
        };
    }
    let site_token = token_arg(&args.site_token, &args.site_token_file, "site")?;
    if let Some(token) = &site_token {
        builder = builder.site("site_local", token);
    }
    if let Some(path) = &args.signing_key {
        let pem = crate::client::read_text_file(path, "the signing key")?;
        builder = builder.signing_key_pem(pem);
    }
    if args.tls {
        builder = builder.tls(TlsSource::Generated);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        builder = builder.tls(TlsSource::Pem {
            cert_chain: crate::client::read_text_file(cert, "the TLS certificate chain")?,
            key: crate::client::read_text_file(key, "the TLS key")?,
        });
    }
    Ok(builder)
}

/// The fault flags, scripted into the running emulator.
fn script_faults(emulator: &Emulator, args: &ServeArgs) -> Result<(), Failure> {
    for spec in &args.fail {
        let (spec, retry_after) = match parts::<4>(spec, "fail") {
            Ok([r, status, count, seconds]) => {
                ([r, status, count], Some(number(&seconds, "retry-after")?))
            }
            Err(_) => (parts::<3>(spec, "fail")?, None),
        };
        let [r, status, count] = spec;
        emulator.inject(
            route(&r)?,
            Fault::Status {
                status: number(&status, "status")?,
                retry_after,
            },
            number(&count, "count")?,
        );
    }
    for spec in &args.raw {
        // The body may hold colons: only the first three separate.
        let pieces: Vec<&str> = spec.splitn(4, ':').collect();
        let [r, status, count, body] = pieces[..] else {
            return Err(Failure::invalid_input(format!(
                "--raw {spec:?}: expected ROUTE:STATUS:COUNT:BODY"
            )));
        };
        emulator.inject(
            route(r)?,
            Fault::Raw {
                status: number(status, "status")?,
                headers: vec![("content-type".to_owned(), "application/json".to_owned())],
                body: raw_body(body)?,
            },
            number(count, "count")?,
        );
    }
    for spec in &args.drop {
        let [r, count] = parts::<2>(spec, "drop")?;
        emulator.inject(route(&r)?, Fault::Drop, number(&count, "count")?);
    }
    for spec in &args.panic {
        let [r, count] = parts::<2>(spec, "panic")?;
        emulator.inject(route(&r)?, Fault::Panic, number(&count, "count")?);
    }
    for spec in &args.delay {
        let [r, ms] = parts::<2>(spec, "delay")?;
        emulator.inject_always(
            route(&r)?,
            Fault::DelayHeaders(Duration::from_millis(number(&ms, "delay")?)),
        );
    }
    if let Some(count) = args.ambiguous_approve {
        emulator.inject(Route::Approve, Fault::ProcessThenDrop, count);
    }
    for spec in &args.redirect {
        let [r, count] = parts::<2>(spec, "redirect")?;
        emulator.inject(
            route(&r)?,
            Fault::Redirect { status: 307 },
            number(&count, "count")?,
        );
    }
    for spec in &args.trickle {
        let [r, bytes, ms] = parts::<3>(spec, "trickle")?;
        let fault = Fault::TrickleBody {
            chunk: number(&bytes, "bytes")?,
            interval: Duration::from_millis(number(&ms, "interval")?),
        };
        emulator.inject_always(route(&r)?, fault);
    }
    for spec in &args.rate_limit {
        let [r, per_second] = parts::<2>(spec, "rate-limit")?;
        emulator.rate_limit(route(&r)?, number(&per_second, "rate")?);
    }
    Ok(())
}

/// Where it listens and what a client needs, as `--format` says.
fn announce(emulator: &Emulator, format: ServeFormat, ca_pem_path: Option<&Path>) {
    if format == ServeFormat::Env {
        println!("export LIME_API_BASE={}", shell_quote(&emulator.base_url()));
        println!(
            "export LIME_AGENT_TOKEN={}",
            shell_quote(emulator.agent_token())
        );
        println!(
            "export LIME_SITE_TOKEN={}",
            shell_quote(emulator.site_token())
        );
        if let Some(path) = &ca_pem_path {
            println!(
                "export LIME_CA_CERT={}",
                shell_quote(&path.display().to_string())
            );
        }
        if let (Some(url), Some(addr)) = (emulator.mcp_url(), emulator.mcp_addr()) {
            let domain = mcp_domain(&url);
            println!(
                "export LIME_RESOLVE={}",
                shell_quote(&format!("{domain}={}", addr.ip()))
            );
            println!("# MCP server: {url}");
        }
    } else if format == ServeFormat::Json {
        let mut line = json!({
            "base_url": emulator.base_url(),
            "agent_token": emulator.agent_token(),
            "site_token": emulator.site_token(),
        });
        if let Some(path) = &ca_pem_path {
            line["ca_pem_path"] = path.display().to_string().into();
        }
        if let (Some(url), Some(addr)) = (emulator.mcp_url(), emulator.mcp_addr()) {
            line["mcp_url"] = url.into();
            line["mcp_addr"] = addr.to_string().into();
        }
        println!("{line}");
    } else {
        println!("lime emulator listening");
        println!("  LIME_API_BASE={}", emulator.base_url());
        println!("  LIME_AGENT_TOKEN={}", emulator.agent_token());
        println!("  LIME_SITE_TOKEN={}", emulator.site_token());
        if let Some(path) = &ca_pem_path {
            println!("  CA to trust: {}", path.display());
        }
        if let (Some(url), Some(addr)) = (emulator.mcp_url(), emulator.mcp_addr()) {
            println!(
                "  MCP server: {url} (at {addr}: --resolve {}:{}:127.0.0.1)",
                mcp_domain(&url),
                addr.port()
            );
        }
        println!("Ctrl-C or SIGTERM stops it.");
    }
}

/// A token to accept, from the flag or its file (the emulator refuses an
/// empty or blank one at start).
fn token_arg(
    value: &Option<String>,
    file: &Option<PathBuf>,
    who: &str,
) -> Result<Option<zeroize::Zeroizing<String>>, Failure> {
    let token = match (value, file) {
        (Some(value), _) => zeroize::Zeroizing::new(value.clone()),
        (None, Some(path)) => {
            let text = crate::client::read_token_file(path, &format!("{who} token file"))?;
            zeroize::Zeroizing::new(text.trim().to_owned())
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(token))
}

/// The generated CA, written where nobody else could have prepared the
/// path: a file created new with mode 0600 (`--ca-out`), or one inside a
/// fresh directory of mode 0700. What this process created is removed
/// when it stops.
struct CaFile {
    path: PathBuf,
    /// The private directory made for it, when `--ca-out` was not given.
    dir: Option<PathBuf>,
}

impl CaFile {
    fn write(pem: &str, out: Option<&Path>) -> Result<CaFile, Failure> {
        let fail = |path: &Path, e: std::io::Error| {
            Failure::new(
                Kind::Config,
                format!("cannot write the CA to {}: {e}", path.display()),
            )
        };
        let (path, dir) = match out {
            Some(path) => (path.to_owned(), None),
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "lime-emulator-{}-{:016x}",
                    std::process::id(),
                    random_u64()
                ));
                let mut builder = std::fs::DirBuilder::new();
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder.create(&dir).map_err(|e| fail(&dir, e))?;
                (dir.join("ca.pem"), Some(dir))
            }
        };
        if let Err(e) = lime_emulator::owner_only::create(&path, pem.as_bytes()) {
            if let Some(dir) = &dir {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(fail(&path, e));
        }
        Ok(CaFile { path, dir })
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        // Only what this process made: the --ca-out file is the user's to keep.
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// A random number from std's randomly keyed hasher (no extra dependency).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
