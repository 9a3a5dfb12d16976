//! A request in one write. ureq writes a request's head and its body with
//! a write each: over TCP that is two segments, two deliveries and two
//! wake-ups of the server for one small POST (a login's approve). This
//! transport keeps what ureq writes until ureq waits for the answer (or
//! half its buffer is used), then sends it at once. It is chained after
//! ureq's own connectors, above TLS, so it joins plaintext into one TLS
//! record too.
//!
//! ureq's buffer trait reads input through `&self`, which a wrapper cannot
//! forward to the transport it wraps (ureq lends those buffers only through
//! `&mut`), so this transport has buffers of its own: output is copied down
//! when it is sent, input is moved up as it arrives.

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

/// The connector that wraps each new connection in [`OneWriteTransport`].
#[derive(Debug)]
pub(crate) struct OneWrite;

impl Connector<Box<dyn Transport>> for OneWrite {
    type Out = OneWriteTransport;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        chained: Option<Box<dyn Transport>>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|mut inner| {
            // The same output size as the wrapped transport: a flush
            // always fits in its buffer.
            let output = inner.buffers().output().len();
            let input = details.config.input_buffer_size();
            OneWriteTransport {
                inner,
                buffers: LazyBuffers::new(input, output),
                held: 0,
            }
        }))
    }
}

/// A transport whose output goes out when its answer is awaited.
#[derive(Debug)]
pub(crate) struct OneWriteTransport {
    inner: Box<dyn Transport>,
    buffers: LazyBuffers,
    /// Bytes at the start of `buffers`' output not yet sent.
    held: usize,
}

impl OneWriteTransport {
    /// Sends what is held.
    fn flush(&mut self, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let held = std::mem::take(&mut self.held);
        if held > 0 {
            let source = &self.buffers.output()[..held];
            self.inner.buffers().output()[..held].copy_from_slice(source);
            self.inner.transmit_output(held, timeout)?;
        }
        Ok(())
    }

    /// Moves what the wrapped transport has read into this one's input;
    /// true if any byte moved.
    fn move_input(&mut self) -> bool {
        let from = self.inner.buffers().input();
        let to = self.buffers.input_append_buf();
        let n = from.len().min(to.len());
        to[..n].copy_from_slice(&from[..n]);
        self.buffers.input_appended(n);
        self.inner.buffers().input_consume(n);
        n > 0
    }
}

impl Transport for OneWriteTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.held += amount;
        // Leave at least half the buffer for ureq's next write.
        if self.held * 2 >= self.buffers.output().len() {
            self.flush(timeout)?;
        }
        Ok(())
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.flush(timeout)?;
        if self.buffers.can_use_input() {
            return Ok(true);
        }
        self.await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.flush(timeout)?;
        if self.inner.buffers().input().is_empty() && !self.inner.await_input(timeout)? {
            return Ok(false);
        }
        Ok(self.move_input())
    }

    /// ureq checks this transport's input for bytes past the answer before
    /// it pools a connection; those still in the wrapped transport's
    /// buffer must count too.
    fn is_open(&mut self) -> bool {
        self.inner.buffers().input().is_empty() && self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// This transport's own buffers, the output after the held bytes.
impl Buffers for OneWriteTransport {
    fn output(&mut self) -> &mut [u8] {
        &mut self.buffers.output()[self.held..]
    }

    fn input(&self) -> &[u8] {
        self.buffers.input()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.buffers.input_append_buf()
    }

    fn input_appended(&mut self, amount: usize) {
        self.buffers.input_appended(amount);
    }

    fn input_consume(&mut self, amount: usize) {
        self.buffers.input_consume(amount);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        let (tmp, output) = self.buffers.tmp_and_output();
        (tmp, &mut output[self.held..])
    }

    fn can_use_input(&self) -> bool {
        self.buffers.can_use_input()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A connection that records each write and answers once; it dials
    /// nothing.
    #[derive(Debug, Default, Clone)]
    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    #[derive(Debug)]
    struct Recorded {
        writes: Recorder,
        buffers: LazyBuffers,
        answered: bool,
    }

    impl Connector for Recorder {
        type Out = Box<dyn Transport>;

        fn connect(
            &self,
            details: &ConnectionDetails<'_>,
            _: Option<()>,
        ) -> Result<Option<Self::Out>, ureq::Error> {
            let config = details.config;
            let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
            Ok(Some(Box::new(Recorded {
                writes: self.clone(),
                buffers,
                answered: false,
            })))
        }
    }

    impl Transport for Recorded {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }

        fn transmit_output(&mut self, amount: usize, _: NextTimeout) -> Result<(), ureq::Error> {
            let written = self.buffers.output()[..amount].to_vec();
            self.writes.0.lock().unwrap().push(written);
            Ok(())
        }

        fn await_input(&mut self, _: NextTimeout) -> Result<bool, ureq::Error> {
            if std::mem::replace(&mut self.answered, true) {
                return Ok(false);
            }
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            self.buffers.input_append_buf()[..answer.len()].copy_from_slice(answer);
            self.buffers.input_appended(answer.len());
            Ok(true)
        }

        fn is_open(&mut self) -> bool {
            true
        }
    }

    /// Sends `body` (a GET when `None`) through the one-write layer; the
    /// writes the connection saw.
    fn writes_of(body: Option<&[u8]>) -> Vec<Vec<u8>> {
        let recorder = Recorder::default();
        let config = ureq::Agent::config_builder()
            .output_buffer_size(16 * 1024)
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            recorder.clone().chain(OneWrite),
            crate::transport::LiteralsFirst::default(),
        );
        let url = "http://127.0.0.1:9/x";
        let mut answer = match body {
            Some(body) => agent.post(url).send(body),
            None => agent.get(url).call(),
        }
        .expect("the recorded answer");
        assert_eq!(answer.body_mut().read_to_string().unwrap(), "ok");
        recorder.0.lock().unwrap().clone()
    }

    #[test]
    fn bytes_left_below_make_the_connection_unfit_for_reuse() {
        let inner = Recorded {
            writes: Recorder::default(),
            buffers: LazyBuffers::new(1024, 1024),
            answered: true,
        };
        let mut transport = OneWriteTransport {
            inner: Box::new(inner),
            buffers: LazyBuffers::new(1024, 1024),
            held: 0,
        };
        assert!(transport.is_open());
        // Bytes the server sent past its answer, not yet moved up.
        let below = transport.inner.buffers();
        below.input_append_buf()[..4].copy_from_slice(b"junk");
        below.input_appended(4);
        assert!(!transport.is_open());
    }

    #[test]
    fn a_small_post_leaves_in_one_write() {
        let writes = writes_of(Some(br#"{"pow_nonce":"42"}"#));
        assert_eq!(writes.len(), 1, "head and body together");
        assert!(writes[0].starts_with(b"POST /x HTTP/1.1\r\n"));
        assert!(writes[0].ends_with(b"\r\n\r\n{\"pow_nonce\":\"42\"}"));
    }

    #[test]
    fn a_get_leaves_when_its_answer_is_awaited() {
        let writes = writes_of(None);
        assert_eq!(writes.len(), 1);
        assert!(writes[0].starts_with(b"GET /x HTTP/1.1\r\n"));
        assert!(writes[0].ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn a_body_larger_than_the_buffer_leaves_whole_in_order() {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let writes = writes_of(Some(&body));
        assert!(writes.len() > 1, "flushed as the buffer filled");
        assert!(writes.iter().all(|w| w.len() <= 16 * 1024));
        let sent = writes.concat();
        let head_end = sent.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(&sent[head_end..], &body[..]);
    }
}
