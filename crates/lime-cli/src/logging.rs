//! What the CLI writes to stderr besides results: one line per retry
//! always, the SDK's steps with `-v`, TRACE detail with `-vv`.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::report::{Stream, colour_on};

/// Installs the subscriber for `verbose` (`-v` count).
pub(crate) fn init(verbose: u8) {
    let ansi = colour_on(Stream::Stderr);
    if verbose == 0 {
        // Only the retry lines, as plain text: `lime: retrying (2/4) in 0.5 s: HTTP 503`.
        let targets = tracing_subscriber::filter::Targets::new()
            .with_target("lime::retry", tracing::Level::WARN);
        tracing_subscriber::registry()
            .with(RetryLines.with_filter(targets))
            .init();
        return;
    }
    let level = if verbose == 1 {
        tracing::Level::DEBUG
    } else {
        tracing::Level::TRACE
    };
    let targets = tracing_subscriber::filter::Targets::new()
        .with_target("lime", level)
        .with_target("lime_emulator", level)
        .with_target("lime_tokio", level);
    // Every field is escaped: server text (a request id, a message) must
    // never reach the terminal as control sequences.
    let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let text = crate::report::escape_controls(&format!("{value:?}"));
        if field.name() == "message" {
            write!(writer, "{text}")
        } else {
            write!(writer, "{field}={text}")
        }
    })
    .delimited(" ");
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(ansi)
                .fmt_fields(fields)
                .with_filter(targets),
        )
        .init();
}

/// Writes each event's message alone, prefixed `lime: `.
struct RetryLines;

impl<S: tracing::Subscriber> Layer<S> for RetryLines {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        eprintln!("lime: {}", crate::report::escape_controls(&message.0));
    }
}

/// The `message` field of an event.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}
