//! Server-sent events, as OpenAI-compatible servers stream chat completions: `data:` lines,
//! an empty line ending each event, `:` comments as keep-alives, `[DONE]` at the end.

/// The longest line accepted; a server that sends more without a newline is not speaking SSE.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// One complete event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` for the default (`message`).
    pub event: Option<String>,
    /// The `data:` lines, joined by newlines.
    pub data: String,
}

/// Feeds bytes in as they arrive, takes complete events out.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
    /// A `\r` ended the last line: a `\n` right after it belongs to the same line break.
    after_cr: bool,
}

impl SseParser {
    /// Adds bytes and returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut events = Vec::new();
        for &byte in bytes {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.buffer);
                    let line = String::from_utf8(line)
                        .map_err(|_| "an event that is not valid UTF-8".to_string())?;
                    if let Some(event) = self.line(&line) {
                        events.push(event);
                    }
                }
                _ => {
                    if self.buffer.len() >= MAX_LINE {
                        return Err("a line longer than 16 MB".into());
                    }
                    self.buffer.push(byte);
                }
            }
        }
        Ok(events)
    }

    /// Whether bytes of an unfinished event are pending (the stream ended inside an event).
    pub fn has_partial_event(&self) -> bool {
        !self.buffer.is_empty() || !self.data.is_empty()
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            if self.data.is_empty() {
                self.event = None;
                return None;
            }
            return Some(SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data).join("\n"),
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => self.data.push(value.to_string()),
            "event" => self.event = Some(value.to_string()),
            // `id` and `retry` mean nothing for a one-off answer.
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn events_split_anywhere_are_reassembled() {
        let stream = b": keep-alive\n\ndata: {\"a\":1}\n\ndata:{\"b\":2}\r\n\r\ndata: [DONE]\n\n";
        let mut whole = SseParser::default();
        let expected = whole.feed(stream).unwrap();
        assert_eq!(data(&expected), ["{\"a\":1}", "{\"b\":2}", "[DONE]"]);
        for split in 0..stream.len() {
            let mut parser = SseParser::default();
            let mut events = parser.feed(&stream[..split]).unwrap();
            events.extend(parser.feed(&stream[split..]).unwrap());
            assert_eq!(events, expected, "split at {split}");
        }
    }

    #[test]
    fn multi_line_data_and_event_names() {
        let mut parser = SseParser::default();
        let events = parser
            .feed(b"event: error\ndata: line 1\ndata: line 2\n\n")
            .unwrap();
        assert_eq!(events[0].event.as_deref(), Some("error"));
        assert_eq!(events[0].data, "line 1\nline 2");
    }

    #[test]
    fn an_unfinished_event_is_noticed() {
        let mut parser = SseParser::default();
        assert!(parser.feed(b"data: {\"a\"").unwrap().is_empty());
        assert!(parser.has_partial_event());
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut parser = SseParser::default();
        assert!(parser.feed(b"data: \xff\xfe\n\n").is_err());
    }
}
