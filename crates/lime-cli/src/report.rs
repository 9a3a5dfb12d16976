//! How outcomes leave the process: exit codes, error kinds, JSON or text.

use std::io::IsTerminal;

use lime_core::Error;
use serde_json::{Value, json};

/// The exit code of an internal error or a panic.
pub(crate) const EXIT_INTERNAL: u8 = 70;

/// An error on its way out: kind, exit code and the four JSON fields.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: &'static str,
    pub(crate) exit: u8,
    pub(crate) code: Option<String>,
    pub(crate) message: String,
    pub(crate) http_status: Option<u16>,
}

impl Failure {
    pub(crate) fn new(kind: &'static str, exit: u8, message: impl Into<String>) -> Self {
        Failure {
            kind,
            exit,
            code: None,
            message: message.into(),
            http_status: None,
        }
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Failure::new("invalid_input", 2, message)
    }

    /// A bug in lime itself (exit 70, as sysexits' `EX_SOFTWARE`).
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Failure::new("internal", EXIT_INTERNAL, message)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let (kind, exit) = match &error {
            Error::InvalidInput { .. } => ("invalid_input", 2),
            Error::Config { .. } => ("config", 2),
            Error::Authentication { .. } => ("authentication", 3),
            Error::Expired { .. } => ("expired", 4),
            e if e.is_conflict() => ("conflict", 4),
            Error::Api { .. } => ("api", 4),
            Error::PowTimeout { .. } => ("pow_timeout", 5),
            Error::RateLimited { .. } => ("rate_limited", 6),
            Error::Cancelled => ("cancelled", 130),
            Error::Internal { .. } => ("internal", EXIT_INTERNAL),
            _ => ("transport_or_response", 7),
        };
        let kind = match (&error, kind) {
            (Error::InvalidResponse { .. }, _) => "invalid_response",
            (Error::Transport(_), _) => "transport",
            (_, k) => k,
        };
        let message = match &error {
            Error::Authentication {
                http_status: None, ..
            } => "no agent token: set LIME_AGENT_TOKEN, or pass --token-file PATH or --token-stdin"
                .to_owned(),
            other => other.to_string(),
        };
        Failure {
            kind,
            exit,
            code: error.code().map(str::to_owned),
            message,
            http_status: error.http_status(),
        }
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
            code @ 0x80..=0x9f => out.push_str(&format!("\\u{{{code:04x}}}")),
            _ => out.push(c),
        }
    }
    out
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
                "kind": failure.kind,
                "code": failure.code,
                "message": failure.message,
                "http_status": failure.http_status,
            }})
        );
    } else {
        let prefix = paint("error", "31;1");
        let message = escape_controls(&failure.message);
        match &failure.code {
            Some(code) => eprintln!("{prefix}: {message} [{}]", escape_controls(code)),
            None => eprintln!("{prefix}: {message}"),
        }
    }
}

/// Colours `text` only on a terminal and never with `NO_COLOR`.
pub(crate) fn paint(text: &str, ansi: &str) -> String {
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    if colour {
        format!("\x1b[{ansi}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}
