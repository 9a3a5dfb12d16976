//! Server-Sent Events: the frames the emulator writes and a reader that
//! reassembles them from arbitrary chunks.

/// One event as carried on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `id:` field, when present.
    pub id: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Writes one event frame: `id:` (when given), one `data:` line per line of
/// `data`, and the blank line that ends it.
///
/// ```
/// use lime_emulator::sse::encode;
/// assert_eq!(encode(Some("7"), "{\"type\":\"keepalive\"}"), "id: 7\ndata: {\"type\":\"keepalive\"}\n\n");
/// ```
pub fn encode(id: Option<&str>, data: &str) -> String {
    let mut frame = String::with_capacity(data.len() + 16);
    if let Some(id) = id {
        frame.push_str("id: ");
        frame.push_str(id);
        frame.push('\n');
    }
    for line in data.split('\n') {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    frame
}

/// Reassembles events from chunks cut anywhere (even inside a UTF-8
/// character or between `\r` and `\n`). Comments and unknown fields are
/// ignored, as the SSE specification says.
///
/// ```
/// use lime_emulator::sse::SseReader;
/// let mut reader = SseReader::default();
/// assert!(reader.feed(b"id: 1\nda").is_empty());
/// let events = reader.feed(b"ta: hello\n\n");
/// assert_eq!(events[0].data, "hello");
/// assert_eq!(events[0].id.as_deref(), Some("1"));
/// ```
#[derive(Debug, Default)]
pub struct SseReader {
    buffer: Vec<u8>,
    id: Option<String>,
    data: Option<String>,
    /// The event being read passed [`MAX_EVENT`](Self::MAX_EVENT).
    oversized: bool,
}

impl SseReader {
    /// The longest line kept while waiting for its end (1 MiB); longer lines are dropped.
    pub const MAX_LINE: usize = 1024 * 1024;
    /// The largest event (its `data` lines together, 1 MiB); a larger one
    /// is dropped whole.
    pub const MAX_EVENT: usize = 1024 * 1024;

    /// Feeds a chunk; returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n' || b == b'\r') {
            // A `\r` at the very end may be half of `\r\n`: wait for more.
            if self.buffer[end] == b'\r' && end + 1 == self.buffer.len() {
                break;
            }
            let skip = if self.buffer[end] == b'\r' && self.buffer.get(end + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            let line: Vec<u8> = self.buffer.drain(..end + skip).take(end).collect();
            self.line(&String::from_utf8_lossy(&line), &mut events);
        }
        if self.buffer.len() > Self::MAX_LINE {
            self.buffer.clear();
        }
        events
    }

    fn line(&mut self, line: &str, events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if let Some(data) = self.data.take()
                && !self.oversized
            {
                events.push(SseEvent {
                    id: self.id.clone(),
                    data,
                });
            }
            self.oversized = false;
            return;
        }
        if self.oversized {
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                match &mut self.data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                }
                if self
                    .data
                    .as_ref()
                    .is_some_and(|d| d.len() > Self::MAX_EVENT)
                {
                    // Dropped whole at its end; its lines are not kept meanwhile.
                    self.data = Some(String::new());
                    self.oversized = true;
                }
            }
            "id" => self.id = Some(value.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_every_split_point() {
        let frames = [
            encode(Some("1"), "{\"a\":\"é€\"}"),
            encode(None, "two\nlines"),
            encode(Some("3"), ""),
        ];
        let stream: String = frames.concat();
        let bytes = stream.as_bytes();
        for cut in 0..=bytes.len() {
            let mut reader = SseReader::default();
            let mut events = reader.feed(&bytes[..cut]);
            events.extend(reader.feed(&bytes[cut..]));
            assert_eq!(events.len(), 3, "cut at {cut}");
            assert_eq!(events[0].data, "{\"a\":\"é€\"}");
            assert_eq!(events[1].data, "two\nlines");
            assert_eq!(
                events[1].id.as_deref(),
                Some("1"),
                "the last id carries over"
            );
            assert_eq!(events[2].id.as_deref(), Some("3"));
        }
    }

    #[test]
    fn an_event_over_the_limit_is_dropped_whole_and_the_next_one_kept() {
        let mut reader = SseReader::default();
        let line = format!("data: {}\n", "x".repeat(1000));
        let mut events = Vec::new();
        for _ in 0..(SseReader::MAX_EVENT / 1000 + 2) {
            events.extend(reader.feed(line.as_bytes()));
        }
        events.extend(reader.feed(b"\ndata: small\n\n"));
        assert_eq!(events.len(), 1, "{:?}", events.len());
        assert_eq!(events[0].data, "small");
        assert!(reader.data.is_none());
    }

    #[test]
    fn crlf_and_comments_are_understood() {
        let mut reader = SseReader::default();
        let events = reader.feed(b": keepalive comment\r\ndata: x\r");
        assert!(events.is_empty());
        let events = reader.feed(b"\n\r\n");
        assert_eq!(
            events,
            [SseEvent {
                id: None,
                data: "x".into()
            }]
        );
    }
}
