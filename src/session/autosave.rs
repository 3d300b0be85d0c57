//! Saving off the UI thread: the app hands over snapshots of a chat; a writer thread stores
//! them, skipping snapshots already superseded by a newer one of the same chat.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::format::ChatFile;
use super::store::ChatStore;
use crate::conversation::EncodedImage;

struct Job {
    file: ChatFile,
    images: Vec<Arc<EncodedImage>>,
}

/// A writer thread for chat snapshots. Dropping it waits until every queued save is written,
/// so quitting (or a hang-up) never loses the last snapshot.
pub struct Autosaver {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Autosaver {
    /// Starts the writer; `on_error` gets a one-line message for each failed save.
    pub fn start(store: ChatStore, on_error: impl Fn(String) + Send + 'static) -> Self {
        let (jobs, queue) = channel();
        let thread = std::thread::Builder::new()
            .name("vchat-autosave".into())
            .spawn(move || write_jobs(&store, &queue, &on_error))
            .ok();
        Self {
            jobs: Some(jobs),
            thread,
        }
    }

    /// Queues a snapshot of a chat (and the images it refers to) for saving.
    pub fn save(&self, file: ChatFile, images: Vec<Arc<EncodedImage>>) {
        if let Some(jobs) = &self.jobs {
            // The thread only stops when this sender is dropped.
            let _ = jobs.send(Job { file, images });
        }
    }

    /// Waits until everything queued is written.
    pub fn finish(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Autosaver {
    fn drop(&mut self) {
        self.finish();
    }
}

fn write_jobs(store: &ChatStore, queue: &Receiver<Job>, on_error: &dyn Fn(String)) {
    while let Ok(first) = queue.recv() {
        // Only the newest snapshot of each chat is worth writing.
        let mut pending = vec![first];
        while let Ok(next) = queue.try_recv() {
            pending.retain(|job| job.file.id != next.file.id);
            pending.push(next);
        }
        for job in pending {
            if let Err(e) = store.save(&job.file, &job.images) {
                tracing::error!("{e}");
                on_error(e.to_string());
            }
        }
    }
}
