//! The settings shared by `login`, `profile` and `site`, and the agent they build.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use lime_core::lime_pow::Scheme;
use lime_core::{Config, PowSchemeChoice};
use lime_tokio::LimeAgent;
use zeroize::Zeroizing;

use crate::report::{Failure, Kind};

/// Client settings. (Doc comments here are `--help` text, so URLs stay bare.)
#[allow(rustdoc::bare_urls)]
#[derive(Debug, Args, Clone)]
pub(crate) struct ClientArgs {
    /// API root (else LIME_API_BASE, else https://lime.pics/api/v1).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Allow plain http:// to a host that is not loopback (the token travels unencrypted).
    #[arg(long)]
    pub(crate) allow_http: bool,
    /// Per-attempt HTTP timeout in seconds [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    pub(crate) timeout: Option<Duration>,
    /// Retries per step [default: 3].
    #[arg(long, value_name = "N")]
    pub(crate) max_retries: Option<u32>,
    /// Read the agent token from this file (wins over LIME_AGENT_TOKEN).
    #[arg(long, value_name = "PATH", conflicts_with = "token_stdin")]
    pub(crate) token_file: Option<PathBuf>,
    /// Read the agent token from standard input (wins over LIME_AGENT_TOKEN).
    #[arg(long)]
    pub(crate) token_stdin: bool,
    /// Also trust the CA certificates in this PEM file (e.g. `lime serve
    /// --tls`'s); LIME_CA_CERT names one too.
    #[arg(long, value_name = "PATH")]
    pub(crate) ca_cert: Option<PathBuf>,
}

/// `--scheme` of the agent commands: what a login solves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SchemeChoiceArg {
    /// The scheme the server names; v1 with one legacy retry when it names none.
    Auto,
    /// Always legacy (what lime-agents-sdk 0.2.0 solves).
    Legacy,
    /// Always v1 (what current servers verify).
    V1,
}

impl From<SchemeChoiceArg> for PowSchemeChoice {
    fn from(arg: SchemeChoiceArg) -> Self {
        match arg {
            SchemeChoiceArg::Auto => PowSchemeChoice::Auto,
            SchemeChoiceArg::Legacy => PowSchemeChoice::Legacy,
            SchemeChoiceArg::V1 => PowSchemeChoice::V1,
        }
    }
}

/// `--scheme` of the PoW tools and the emulator: one scheme exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SchemeArg {
    /// SHA-256(challenge ‖ nonce), as lime-agents-sdk 0.2.0.
    Legacy,
    /// SHA-256("lime:pow:v1" ‖ 0 ‖ challenge ‖ 0 ‖ nonce): what current servers verify.
    V1,
}

impl From<SchemeArg> for Scheme {
    fn from(arg: SchemeArg) -> Self {
        match arg {
            SchemeArg::Legacy => Scheme::Legacy,
            SchemeArg::V1 => Scheme::V1,
        }
    }
}

/// A `--difficulty` a server can ask for: at most 256 bits (≤ 0 accepts
/// any nonce).
pub(crate) fn difficulty(s: &str) -> Result<i64, String> {
    let bits: i64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of bits"))?;
    if bits > i64::from(lime_core::lime_pow::MAX_DIFFICULTY) {
        return Err(format!(
            "{bits} bits can never be met: the maximum is {}",
            lime_core::lime_pow::MAX_DIFFICULTY
        ));
    }
    Ok(bits)
}

/// The proof-of-work settings: only `login` solves.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct PowArgs {
    /// Proof-of-work scheme (else LIME_POW_SCHEME, else auto).
    #[arg(long, value_enum)]
    pub(crate) scheme: Option<SchemeChoiceArg>,
    /// Proof-of-work time budget in seconds [default: 10].
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds, allow_negative_numbers = true)]
    pub(crate) pow_timeout: Option<Duration>,
}

/// The longest duration any `SECONDS` option takes: 10⁹ s, about 31 years.
pub(crate) const MAX_SECONDS: f64 = 1e9;

/// A `SECONDS` option: a finite number from 0 to [`MAX_SECONDS`].
/// [`seconds`], and more than zero: a budget of nothing is a mistake.
pub(crate) fn positive_seconds(s: &str) -> Result<Duration, String> {
    match seconds(s)? {
        zero if zero.is_zero() => Err(format!("{s:?} is zero; give more than 0 seconds")),
        duration => Ok(duration),
    }
}

pub(crate) fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !secs.is_finite() {
        return Err(format!("{s:?} is not a finite number of seconds"));
    }
    if secs < 0.0 {
        return Err(format!(
            "{s:?} is negative; durations are 0 or more seconds"
        ));
    }
    if secs > MAX_SECONDS {
        return Err(format!(
            "{s:?} is over the maximum of {MAX_SECONDS:.0} seconds (about 31 years)"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is not a valid duration"))
}

/// The most a token file or standard input may hold (64 KiB): a token is
/// far shorter, and `/dev/zero` must not grow memory forever.
pub(crate) const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Reads a secret of at most [`MAX_SECRET_BYTES`] into memory that is
/// zeroed when dropped.
pub(crate) fn read_secret(reader: impl Read, what: &str) -> Result<Zeroizing<String>, Failure> {
    let mut bytes = Zeroizing::new(Vec::new());
    reader
        .take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::new(Kind::Config, format!("cannot read {what}: {e}")))?;
    if bytes.len() as u64 > MAX_SECRET_BYTES {
        return Err(Failure::new(
            Kind::Config,
            format!("{what} is over {MAX_SECRET_BYTES} bytes; a token is one short line"),
        ));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::new(Kind::Config, format!("{what} is not UTF-8 text")))?;
    if text.trim().is_empty() {
        return Err(Failure::invalid_input(format!(
            "{what} is empty; it should hold the token"
        )));
    }
    Ok(Zeroizing::new(text.to_owned()))
}

/// The largest file named on the command line that lime reads (a CA
/// bundle, a key, a certificate chain, a `--raw @PATH` body): 16 MiB.
pub(crate) const MAX_ARGUMENT_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads `path` (named by `what`, such as "the CA file"), refusing one
/// over [`MAX_ARGUMENT_FILE_BYTES`] without reading it all (`/dev/zero`).
pub(crate) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    let cannot = |e: std::io::Error| {
        Failure::new(
            Kind::Config,
            format!("cannot read {what} {}: {e}", path.display()),
        )
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_ARGUMENT_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_ARGUMENT_FILE_BYTES {
        return Err(Failure::new(
            Kind::Config,
            format!(
                "{what} {} is over {} MiB",
                path.display(),
                MAX_ARGUMENT_FILE_BYTES >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// [`read_file`] as UTF-8 text (PEM).
pub(crate) fn read_text_file(path: &Path, what: &str) -> Result<String, Failure> {
    String::from_utf8(read_file(path, what)?).map_err(|_| {
        Failure::new(
            Kind::Config,
            format!("{what} {} is not UTF-8 text", path.display()),
        )
    })
}

/// Reads a token file, warning on stderr when others may read it too.
pub(crate) fn read_token_file(path: &Path, what: &str) -> Result<Zeroizing<String>, Failure> {
    let file = std::fs::File::open(path).map_err(|e| {
        Failure::new(
            Kind::Config,
            format!("cannot read the {what} {}: {e}", path.display()),
        )
    })?;
    #[cfg(unix)]
    if let Ok(meta) = file.metadata() {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if meta.is_file() && mode & 0o077 != 0 {
            eprintln!(
                "warning: the {what} {} can be read by other users (mode {:o}); \
                 run `chmod 600` on it",
                path.display(),
                mode & 0o777
            );
        }
    }
    read_secret(file, &format!("the {what} {}", path.display()))
}

impl ClientArgs {
    pub(crate) fn config(&self, pow: &PowArgs) -> Result<Config, Failure> {
        self.config_with(pow, |builder| builder)
    }

    /// [`config`](Self::config) with a command's own settings added.
    pub(crate) fn config_with(
        &self,
        pow: &PowArgs,
        extra: impl FnOnce(lime_core::ConfigBuilder) -> lime_core::ConfigBuilder,
    ) -> Result<Config, Failure> {
        let mut builder = extra(Config::builder()).allow_http(self.allow_http);
        if let Some(url) = &self.base_url {
            builder = builder.base_url(url);
        }
        if let Some(scheme) = pow.scheme {
            builder = builder.pow_scheme(scheme.into());
        }
        if let Some(t) = self.timeout {
            builder = builder.timeout(t);
        }
        if let Some(n) = self.max_retries {
            builder = builder.max_retries(n);
        }
        if let Some(t) = pow.pow_timeout {
            builder = builder.pow_timeout(t);
        }
        if let Some(path) = &self.token_file {
            builder = builder.token(read_token_file(path, "token file")?.as_str());
        } else if self.token_stdin {
            let token = read_secret(std::io::stdin(), "the token from stdin")?;
            builder = builder.token(token.as_str());
        }
        if let Some(path) = &self.ca_cert {
            let pem = read_file(path, "the CA file")?;
            builder = builder.add_root_certificates_pem(&pem);
        }
        Ok(builder.build()?)
    }

    pub(crate) fn agent(&self, pow: &PowArgs) -> Result<LimeAgent, Failure> {
        Ok(LimeAgent::new(self.config(pow)?)?)
    }
}
