//! The size of each server-sent event, counted as the bytes arrive: an
//! event ends at a blank line, and a line ends at `\n`, `\r\n` or `\r`
//! (split across chunks or not), so a CRLF stream is measured per event
//! exactly as an LF one.

/// Counts the bytes of the event being received.
#[derive(Debug, Default)]
pub(crate) struct EventBound {
    /// Bytes of the current event (line endings not counted).
    event: usize,
    /// Bytes of the current line.
    line: usize,
    /// The last byte was a `\r`, so a `\n` now only completes it.
    after_cr: bool,
}

impl EventBound {
    /// Feeds a chunk; the largest event size reached while reading it.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> usize {
        let mut largest = self.event;
        for &byte in chunk {
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\r' | b'\n' => {
                    if self.line == 0 {
                        self.event = 0; // a blank line: the event is over
                    }
                    self.line = 0;
                    self.after_cr = byte == b'\r';
                }
                _ => {
                    self.after_cr = false;
                    self.line += 1;
                    self.event += 1;
                    largest = largest.max(self.event);
                }
            }
        }
        largest
    }
}

#[cfg(test)]
mod tests {
    use super::EventBound;

    fn largest(chunks: &[&[u8]]) -> usize {
        let mut bound = EventBound::default();
        chunks.iter().map(|c| bound.feed(c)).max().unwrap_or(0)
    }

    #[test]
    fn every_line_ending_ends_an_event_at_a_blank_line() {
        for eol in ["\n", "\r\n", "\r"] {
            let stream = format!("data: abc{eol}{eol}data: de{eol}{eol}");
            assert_eq!(largest(&[stream.as_bytes()]), 9, "{eol:?}");
        }
    }

    #[test]
    fn a_crlf_split_between_chunks_is_one_line_ending() {
        // "\r" | "\n\r" | "\n": one blank line, so the second event starts at 0.
        assert_eq!(largest(&[b"data: abcd\r", b"\n\r", b"\ndata: x\r\n"]), 10);
        // A lone "\r\n" then text is a line break, not an event break.
        assert_eq!(largest(&[b"data: ab\r", b"\ndata: cd"]), 16);
    }

    #[test]
    fn a_long_valid_stream_never_accumulates() {
        let mut bound = EventBound::default();
        let event = b"data: {\"jsonrpc\":\"2.0\"}\r\n\r\n";
        let worst = (0..100_000).map(|_| bound.feed(event)).max().unwrap();
        assert_eq!(worst, 23);
    }
}
