//! How outcomes leave the process: exit codes, error kinds, JSON or text.

use std::io::IsTerminal;

use lime_core::{Error, Hint};
use serde_json::{Value, json};

/// Every kind of failure the CLI reports, with its `kind` string (in
/// `--json`) and its exit code, written once: `lime --help`'s table is
/// made from it ([`exit_table`]) and a test checks the README's against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    InvalidInput,
    Config,
    Authentication,
    /// The agent lacks the `oauth:mcp` grant.
    OAuthCapability,
    /// An MCP server refused a fresh token (`MCP_AUTH_FAILED`).
    McpAuth,
    /// An MCP server answered with a JSON-RPC error.
    Mcp,
    Api,
    Expired,
    Conflict,
    PowTimeout,
    RateLimited,
    Transport,
    InvalidResponse,
    /// `site wait` saw no event for the request within its timeout.
    NoEvent,
    /// A bug in lime itself (as sysexits' `EX_SOFTWARE`).
    Internal,
    Cancelled,
}

/// What each exit code means, beside the kinds that exit with it.
const EXIT_MEANINGS: [(u8, &str); 12] = [
    (0, "success"),
    (
        1,
        "pow verify: not valid; site wait: the request expired; mcp call: the tool \
         reported an error",
    ),
    (
        2,
        "bad arguments, request id, MCP target or base URL, plain HTTP without its \
         opt-in, an unreadable or empty token, a zero or out-of-range duration",
    ),
    (
        3,
        "token missing or rejected; the agent lacks the oauth:mcp grant; an MCP server \
         refused a fresh token",
    ),
    (
        4,
        "any other API error, with its code; an MCP server's JSON-RPC error",
    ),
    (5, "proof of work not solved in time"),
    (6, "429 after retries"),
    (
        7,
        "network failure after retries; malformed, redirecting or oversized response",
    ),
    (8, "site wait: no event for the request within --timeout"),
    (70, "a bug in lime (a panic); please report it"),
    (130, "interrupted (Ctrl-C)"),
    (
        141,
        "the reader of stdout went away (a closed pipe); nothing more is printed",
    ),
];

/// The exit-code table of `lime --help`, made from [`Kind`].
pub(crate) fn exit_table() -> String {
    let mut table = String::from("Exit codes (error `kind` in --json output):\n");
    for (code, meaning) in EXIT_MEANINGS {
        let kinds: Vec<&str> = Kind::ALL
            .iter()
            .filter(|k| k.exit_code() == code)
            .map(|k| k.as_str())
            .collect();
        let kinds = if kinds.is_empty() {
            String::new()
        } else {
            format!("{}: ", kinds.join(", "))
        };
        table.push_str(&format!("  {code:<4} {kinds}{meaning}\n"));
    }
    table
}

impl Kind {
    /// Every kind, in the order of their exit codes.
    pub(crate) const ALL: [Kind; 16] = [
        Kind::InvalidInput,
        Kind::Config,
        Kind::Authentication,
        Kind::OAuthCapability,
        Kind::McpAuth,
        Kind::Api,
        Kind::Expired,
        Kind::Conflict,
        Kind::Mcp,
        Kind::PowTimeout,
        Kind::RateLimited,
        Kind::Transport,
        Kind::InvalidResponse,
        Kind::NoEvent,
        Kind::Internal,
        Kind::Cancelled,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::InvalidInput => "invalid_input",
            Kind::Config => "config",
            Kind::Authentication => "authentication",
            Kind::OAuthCapability => "oauth_capability",
            Kind::McpAuth => "mcp_auth",
            Kind::Mcp => "mcp",
            Kind::Api => "api",
            Kind::Expired => "expired",
            Kind::Conflict => "conflict",
            Kind::PowTimeout => "pow_timeout",
            Kind::RateLimited => "rate_limited",
            Kind::Transport => "transport",
            Kind::InvalidResponse => "invalid_response",
            Kind::NoEvent => "no_event",
            Kind::Internal => "internal",
            Kind::Cancelled => "cancelled",
        }
    }

    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Kind::InvalidInput | Kind::Config => 2,
            Kind::Authentication | Kind::OAuthCapability | Kind::McpAuth => 3,
            Kind::Api | Kind::Expired | Kind::Conflict | Kind::Mcp => 4,
            Kind::PowTimeout => 5,
            Kind::RateLimited => 6,
            Kind::Transport | Kind::InvalidResponse => 7,
            Kind::NoEvent => 8,
            Kind::Internal => 70,
            Kind::Cancelled => 130,
        }
    }

    /// The kind of an SDK error.
    fn of(error: &Error) -> Kind {
        match error {
            Error::InvalidInput { .. } => Kind::InvalidInput,
            Error::Config { .. } => Kind::Config,
            Error::Authentication { .. } => Kind::Authentication,
            Error::OAuthCapability { .. } => Kind::OAuthCapability,
            Error::McpAuthentication { .. } => Kind::McpAuth,
            Error::Mcp { .. } => Kind::Mcp,
            Error::Expired { .. } => Kind::Expired,
            e if e.is_conflict() => Kind::Conflict,
            Error::Api { .. } => Kind::Api,
            Error::PowTimeout { .. } => Kind::PowTimeout,
            Error::RateLimited { .. } => Kind::RateLimited,
            Error::Cancelled => Kind::Cancelled,
            Error::Internal { .. } => Kind::Internal,
            Error::InvalidResponse { .. } | Error::PassportRefused(_) => Kind::InvalidResponse,
            _ => Kind::Transport,
        }
    }
}

/// An error on its way out: its kind and the JSON fields.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: Kind,
    pub(crate) code: Option<String>,
    pub(crate) message: String,
    pub(crate) http_status: Option<u16>,
}

impl Failure {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            code: None,
            message: message.into(),
            http_status: None,
        }
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Failure::new(Kind::InvalidInput, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Failure::new(Kind::Internal, message)
    }

    /// The process's exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let kind = Kind::of(&error);
        let message = match &error {
            Error::Authentication {
                http_status: None,
                message,
                ..
            } if message.contains("site token") => {
                "no site token: set LIME_SITE_TOKEN or pass --site-token-file PATH".to_owned()
            }
            Error::Authentication {
                http_status: None, ..
            } => "no agent token: set LIME_AGENT_TOKEN, or pass --token-file PATH or --token-stdin"
                .to_owned(),
            other => match other.hint() {
                Some(hint) => format!("{} ({})", other.without_hint(), flag_hint(hint)),
                None => other.to_string(),
            },
        };
        let code = match &error {
            // The JSON-RPC error code, kept.
            Error::Mcp { code, .. } => Some(code.to_string()),
            other => other.code().map(str::to_owned),
        };
        Failure {
            kind,
            code,
            message,
            http_status: error.http_status(),
        }
    }
}

/// A hint in the CLI's words: the flag, where the SDK names its setter.
fn flag_hint(hint: Hint) -> String {
    match hint {
        Hint::TrustCa => "trust the server's CA with --ca-cert FILE".to_owned(),
        Hint::AllowHttp => "opt in with --allow-http".to_owned(),
        Hint::McpAllowHttp => "opt in with --mcp-allow-http".to_owned(),
        other => other.to_string(),
    }
}

/// `text` safe for a terminal: every control character (C0, DEL, C1:
/// escape sequences, carriage returns, line breaks) shown as `\xNN` or
/// `\u{NNNN}`, so server-controlled text can neither retitle the terminal
/// nor fake a line. (`--json` output is escaped by JSON itself.)
pub(crate) fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c as u32 {
            code @ (0..=0x1f | 0x7f) => out.push_str(&format!("\\x{code:02x}")),
            // C1 controls, and the bidi overrides and isolates that can
            // reorder what a terminal shows.
            code @ (0x80..=0x9f | 0x202a..=0x202e | 0x2066..=0x2069) => {
                out.push_str(&format!("\\u{{{code:04x}}}"));
            }
            _ => out.push(c),
        }
    }
    out
}

/// A result type as the JSON the CLI prints (through its `serde` derive).
pub(crate) fn to_json(value: &impl serde::Serialize) -> Result<Value, Failure> {
    serde_json::to_value(value)
        .map_err(|e| Failure::internal(format!("cannot write the result as JSON: {e}")))
}

/// Unix seconds as RFC 3339 in UTC, to the millisecond.
pub(crate) fn unix_to_rfc3339(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(time_ms)
        .unwrap_or_else(|_| seconds.to_string())
}

/// A time as RFC 3339 to the millisecond, in text as in JSON.
pub(crate) fn time_ms(t: time::OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
    );
    t.format(FORMAT).unwrap_or_default()
}

/// Prints a success: the JSON object with `--json`, else the text.
pub(crate) fn success(json_mode: bool, value: &Value, text: &str) {
    if json_mode {
        println!("{value}");
    } else if !text.is_empty() {
        println!("{text}");
    }
}

/// Prints a failure (JSON on stdout with `--json`, else text on stderr).
pub(crate) fn failure(json_mode: bool, failure: &Failure) {
    if json_mode {
        println!(
            "{}",
            json!({ "error": {
                "kind": failure.kind.as_str(),
                "code": failure.code,
                "message": failure.message,
                "http_status": failure.http_status,
            }})
        );
    } else {
        let prefix = paint(Stream::Stderr, "error", "31;1");
        let message = escape_controls(&failure.message);
        match &failure.code {
            // The code once: most messages name it already.
            Some(code) if !failure.message.contains(code.as_str()) => {
                eprintln!("{prefix}: {message} [{}]", escape_controls(code));
            }
            _ => eprintln!("{prefix}: {message}"),
        }
    }
}

/// An output stream, for deciding colour on each separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// `--color`: when to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (or `CLICOLOR_FORCE` asks).
    #[default]
    Auto,
    /// Always, even into a file or pipe.
    Always,
    /// Never.
    Never,
}

/// The `--color` given, set once at start.
static COLOR: std::sync::OnceLock<ColorChoice> = std::sync::OnceLock::new();

/// Records `--color` before anything is printed.
pub(crate) fn set_color(choice: ColorChoice) {
    let _ = COLOR.set(choice);
}

/// Whether to colour what goes to `stream`: as `--color always|never`
/// says; with `auto`, never with `NO_COLOR` (any non-empty value), always
/// with `CLICOLOR_FORCE` (non-empty, not `0`), else only when that stream
/// is a terminal (never a file or a pipe).
pub(crate) fn colour_on(stream: Stream) -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorChoice::Always => return true,
        ColorChoice::Never => return false,
        ColorChoice::Auto => {}
    }
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    }
}

/// `text` in the ANSI style `ansi` when `stream` is coloured.
pub(crate) fn paint(stream: Stream, text: &str, ansi: &str) -> String {
    if colour_on(stream) {
        format!("\x1b[{ansi}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}
