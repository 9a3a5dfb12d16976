//! Server-Sent Events read from chunks cut anywhere, in time and memory
//! linear in the input: each byte is looked at once, only an unfinished
//! line is kept between chunks, and every limit is named.

/// One event as the stream carried it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The last `id:` seen, as the SSE specification carries it over.
    pub(crate) id: Option<String>,
    /// Whether this event had an `id:` line of its own (a keepalive or an
    /// error after an event only carries the last one over).
    pub(crate) own_id: bool,
    /// The `data:` lines joined with `\n`.
    pub(crate) data: String,
}

/// The longest line kept while waiting for its end (1 MiB); a longer line
/// is skipped to its end, never buffered.
pub const MAX_SSE_LINE: usize = 1024 * 1024;
/// The largest event, its `data:` lines together (1 MiB); a larger one is
/// dropped whole.
pub const MAX_SSE_EVENT: usize = 1024 * 1024;
/// The longest `id:` kept (256 bytes); a longer one is ignored.
pub const MAX_SSE_ID: usize = 256;

/// The reader's state between chunks.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// The unfinished line (never over [`MAX_SSE_LINE`]).
    line: Vec<u8>,
    /// The line being skipped passed the limit.
    skipping_line: bool,
    /// The last chunk ended in `\r`: a `\n` first in the next one is its pair.
    after_cr: bool,
    id: Option<String>,
    /// The event being read has an `id:` line of its own.
    own_id: bool,
    data: Option<String>,
    /// The event being read passed [`MAX_SSE_EVENT`].
    oversized: bool,
    /// Bytes looked at so far, for tests that check the work is linear.
    scanned: u64,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed.
    pub(crate) fn feed(&mut self, chunk: &[u8], events: &mut Vec<SseEvent>) {
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(b'\n') = rest.first() {
                rest = &rest[1..];
            }
        }
        while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.scanned += end as u64 + 1;
            let (line, after) = (&rest[..end], &rest[end + 1..]);
            rest = match (rest[end], after.first()) {
                (b'\r', Some(b'\n')) => &after[1..],
                (b'\r', None) => {
                    self.after_cr = true;
                    after
                }
                _ => after,
            };
            if self.skipping_line {
                self.skipping_line = false;
                self.line.clear();
                continue;
            }
            if self.line.is_empty() {
                self.line_done(line, events);
            } else {
                self.line.extend_from_slice(line);
                let whole = std::mem::take(&mut self.line);
                self.line_done(&whole, events);
                self.line = whole;
                self.line.clear();
            }
        }
        self.scanned += rest.len() as u64;
        if !self.skipping_line {
            if self.line.len() + rest.len() > MAX_SSE_LINE {
                self.line.clear();
                self.skipping_line = true;
            } else {
                self.line.extend_from_slice(rest);
            }
        }
    }

    /// Bytes looked at so far.
    pub(crate) fn scanned(&self) -> u64 {
        self.scanned
    }

    fn line_done(&mut self, line: &[u8], events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if let Some(data) = self.data.take()
                && !std::mem::take(&mut self.oversized)
            {
                events.push(SseEvent {
                    id: self.id.clone(),
                    own_id: self.own_id,
                    data,
                });
            }
            self.oversized = false;
            self.own_id = false;
            return;
        }
        if self.oversized || line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                let len = self.data.as_ref().map_or(0, |d| d.len() + 1) + value.len();
                if len > MAX_SSE_EVENT {
                    // Dropped whole at its end; its lines are not kept meanwhile.
                    self.data = Some(String::new());
                    self.oversized = true;
                    return;
                }
                let value = String::from_utf8_lossy(value);
                match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(&value);
                    }
                    None => self.data = Some(value.into_owned()),
                }
            }
            b"id" if value.len() <= MAX_SSE_ID && !value.contains(&0) => {
                self.id = Some(String::from_utf8_lossy(value).into_owned());
                self.own_id = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(parser: &mut SseParser, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        parser.feed(chunk, &mut out);
        out
    }

    #[test]
    fn round_trips_through_every_split_point() {
        let stream =
            "id: 1\ndata: {\"a\":\"é€\"}\n\ndata: two\ndata: lines\n\nid: 3\ndata: x\r\n\r\n";
        let bytes = stream.as_bytes();
        for cut in 0..=bytes.len() {
            let mut parser = SseParser::default();
            let mut got = events(&mut parser, &bytes[..cut]);
            got.extend(events(&mut parser, &bytes[cut..]));
            assert_eq!(got.len(), 3, "cut at {cut}");
            assert_eq!(got[0].data, "{\"a\":\"é€\"}");
            assert_eq!(got[1].data, "two\nlines");
            assert_eq!(got[1].id.as_deref(), Some("1"), "the last id carries over");
            assert_eq!(got[2].id.as_deref(), Some("3"));
        }
    }

    #[test]
    fn an_event_over_the_limit_is_dropped_whole_and_the_next_one_kept() {
        let mut parser = SseParser::default();
        let line = format!("data: {}\n", "x".repeat(1000));
        let mut got = Vec::new();
        for _ in 0..(MAX_SSE_EVENT / 1000 + 2) {
            got.extend(events(&mut parser, line.as_bytes()));
        }
        got.extend(events(&mut parser, b"\ndata: small\n\n"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, "small");
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_without_being_kept() {
        let mut parser = SseParser::default();
        let mut got = events(&mut parser, b"data: ");
        for _ in 0..3 {
            got.extend(events(&mut parser, &vec![b'y'; MAX_SSE_LINE]));
            assert!(parser.line.capacity() <= 2 * MAX_SSE_LINE);
            assert!(parser.line.is_empty());
        }
        got.extend(events(&mut parser, b"yyy\n\ndata: next\n\n"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, "next");
    }

    #[test]
    fn the_work_is_linear_in_the_input_whatever_it_holds() {
        let floods: [&dyn Fn(usize) -> Vec<u8>; 3] = [
            &|n| vec![b'\n'; n],
            &|n| b": comment\n".repeat(n / 10),
            &|n| b"data: x\n".repeat(n / 8),
        ];
        for flood in floods {
            let scanned = |n: usize| {
                let mut parser = SseParser::default();
                let input = flood(n);
                let mut out = Vec::new();
                for chunk in input.chunks(64 * 1024) {
                    parser.feed(chunk, &mut out);
                }
                assert!(parser.line.len() <= MAX_SSE_LINE);
                parser.scanned()
            };
            let (small, large) = (scanned(1 << 20), scanned(4 << 20));
            assert!(small <= 1 << 20 && large <= 4 << 20, "{small} {large}");
            assert!(large >= 3 * small, "{small} {large}");
        }
    }

    #[test]
    fn crlf_and_comments_are_understood() {
        let mut parser = SseParser::default();
        assert!(events(&mut parser, b": keepalive comment\r\ndata: x\r").is_empty());
        let got = events(&mut parser, b"\n\r\n");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, "x");
    }
}
