//! Server-Sent Events as the emulator writes them (the reader is
//! `lime_core::site::EventStream`'s).

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
