//! Response bodies: whole, or streamed from a channel (SSE, trickles, huge
//! and endless bodies).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::sync::mpsc::{
    Receiver, Sender, UnboundedReceiver, UnboundedSender, channel, unbounded_channel,
};

/// The emulator's response body.
#[derive(Debug)]
pub(crate) enum ResponseBody {
    Full(Option<Bytes>),
    Channel(UnboundedReceiver<Bytes>),
    /// An event stream: at most `capacity` frames queued for a slow reader.
    Bounded(Receiver<Bytes>),
}

impl ResponseBody {
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        ResponseBody::Full(Some(bytes.into()))
    }

    pub(crate) fn channel() -> (UnboundedSender<Bytes>, Self) {
        let (tx, rx) = unbounded_channel();
        (tx, ResponseBody::Channel(rx))
    }

    pub(crate) fn bounded(capacity: usize) -> (Sender<Bytes>, Self) {
        let (tx, rx) = channel(capacity);
        (tx, ResponseBody::Bounded(rx))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ResponseBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Channel(rx) => rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b)))),
            ResponseBody::Bounded(rx) => rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ResponseBody::Full(None))
    }

    /// Whole bodies have an exact size, so hyper sends `Content-Length`
    /// rather than chunked encoding.
    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            ResponseBody::Full(Some(b)) => http_body::SizeHint::with_exact(b.len() as u64),
            ResponseBody::Full(None) => http_body::SizeHint::with_exact(0),
            ResponseBody::Channel(_) | ResponseBody::Bounded(_) => http_body::SizeHint::default(),
        }
    }
}
