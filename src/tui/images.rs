//! The image pane's encoder: picks the terminal's graphics protocol once at start-up and
//! resizes/encodes pictures on a thread of its own, so the UI never waits for it.

use std::sync::Arc;

use image::DynamicImage;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::thread::{ResizeRequest, ResizeResponse, ThreadProtocol};
use tokio::sync::mpsc;

use crate::cli::ImageProtocol;
use crate::conversation::ChatImage;

/// Chooses the graphics protocol. Querying the terminal reads stdin, so this runs before the
/// event loop starts reading keys; a terminal that does not answer gets half-blocks.
pub fn pick(choice: ImageProtocol) -> Picker {
    // Inside tmux the query would be wrapped for an outer terminal that may never answer, a
    // two-second wait at every start: half-blocks there, or the forced protocol with a default
    // cell size.
    let in_tmux = std::env::var_os("TMUX").is_some();
    let mut picker = if choice == ImageProtocol::Halfblocks || in_tmux {
        Picker::halfblocks()
    } else {
        super::terminal_query::picker_from_terminal()
    };
    let forced = match choice {
        ImageProtocol::Sixel => Some(ProtocolType::Sixel),
        ImageProtocol::Kitty => Some(ProtocolType::Kitty),
        ImageProtocol::Iterm2 => Some(ProtocolType::Iterm2),
        ImageProtocol::Auto | ImageProtocol::Halfblocks => None,
    };
    if let Some(protocol) = forced {
        picker.set_protocol_type(protocol);
    }
    tracing::info!("image protocol: {:?}", picker.protocol_type());
    picker
}

/// The encoded picture of the image pane and the thread that encodes it.
pub struct ImageRenderer {
    picker: Picker,
    protocol: Option<ThreadProtocol>,
    shown: Option<Arc<DynamicImage>>,
    requests: std::sync::mpsc::Sender<ResizeRequest>,
    responses: mpsc::UnboundedReceiver<ResizeResponse>,
}

impl ImageRenderer {
    /// Starts the encoding thread.
    pub fn new(picker: Picker) -> Self {
        let (requests, request_rx) = std::sync::mpsc::channel::<ResizeRequest>();
        let (response_tx, responses) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("image-encoder".into())
            .spawn(move || {
                // Ends when the renderer (the only sender) is dropped.
                for request in request_rx {
                    match request.resize_encode() {
                        Ok(done) => {
                            if response_tx.send(done).is_err() {
                                break;
                            }
                        }
                        Err(e) => tracing::warn!("cannot encode the image: {e}"),
                    }
                }
            })
            .map_err(|e| tracing::warn!("cannot start the image thread: {e}"))
            .ok();
        Self {
            picker,
            protocol: None,
            shown: None,
            requests,
            responses,
        }
    }

    /// Follows the image the state shows; a new image starts a new encoding.
    pub fn sync(&mut self, shown: Option<&ChatImage>) {
        let same = match (&self.shown, shown) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, &b.pixels),
            (None, None) => true,
            _ => false,
        };
        if same {
            return;
        }
        self.shown = shown.map(|i| Arc::clone(&i.pixels));
        self.protocol = shown.map(|image| {
            let protocol = self.picker.new_resize_protocol((*image.pixels).clone());
            ThreadProtocol::new(self.requests.clone(), Some(protocol))
        });
    }

    /// The picture to draw, if any.
    pub fn protocol(&mut self) -> Option<&mut ThreadProtocol> {
        self.protocol.as_mut()
    }

    /// Waits for the encoding thread to finish a picture; installs it and returns true when
    /// it is still the one to show.
    pub async fn next_encoded(&mut self) -> bool {
        match self.responses.recv().await {
            Some(done) => self
                .protocol
                .as_mut()
                .is_some_and(|p| p.update_resized_protocol(done)),
            // The thread is gone: never ready again.
            None => std::future::pending().await,
        }
    }
}
