//! The one writer of the chat files: every save, rename and delete (and every read that must
//! see them, such as opening a chat) runs on one thread, in the order asked. Snapshots of a
//! chat already superseded by a newer snapshot of the same chat, with nothing in between, are
//! skipped.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::format::ChatFile;
use super::store::ChatStore;
use crate::conversation::EncodedImage;

/// Work for the writer thread, done in the order queued.
enum Job {
    /// Store this snapshot of a chat (and the images it refers to).
    Save {
        file: ChatFile,
        images: Vec<Arc<EncodedImage>>,
    },
    /// Anything else that touches the store: a rename, a delete, a read that must come after
    /// the writes queued before it.
    Run(Box<dyn FnOnce(&ChatStore) + Send>),
}

/// The writer thread of one store. Dropping it waits until every queued job is done, so
/// quitting (or a hang-up) never loses the last snapshot.
pub struct ChatWriter {
    store: ChatStore,
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl ChatWriter {
    /// Starts the writer; `on_error` gets a one-line message for each failed save.
    pub fn start(store: ChatStore, on_error: impl Fn(String) + Send + 'static) -> Self {
        let (jobs, queue) = channel();
        let thread_store = store.clone();
        let thread = std::thread::Builder::new()
            .name("vchat-chat-writer".into())
            .spawn(move || run_jobs(&thread_store, &queue, &on_error))
            .ok();
        Self {
            store,
            jobs: Some(jobs),
            thread,
        }
    }

    /// Queues a snapshot of a chat (and the images it refers to) for saving.
    pub fn save(&self, file: ChatFile, images: Vec<Arc<EncodedImage>>) {
        self.send(Job::Save { file, images });
    }

    /// Queues other work on the store (rename, delete, a read that must see every save
    /// queued before it), run on the writer thread in order.
    pub fn run(&self, work: impl FnOnce(&ChatStore) + Send + 'static) {
        self.send(Job::Run(Box::new(work)));
    }

    fn send(&self, job: Job) {
        match (&self.jobs, &self.thread) {
            // The thread only stops when this sender is dropped.
            (Some(jobs), Some(_)) => {
                let _ = jobs.send(job);
            }
            // No thread could be started: do the work here rather than lose it.
            _ => run_job(&self.store, job, &|e| tracing::error!("{e}")),
        }
    }

    /// Waits until everything queued is done.
    pub fn finish(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ChatWriter {
    fn drop(&mut self) {
        self.finish();
    }
}

fn run_jobs(store: &ChatStore, queue: &Receiver<Job>, on_error: &dyn Fn(String)) {
    while let Ok(first) = queue.recv() {
        let mut pending = vec![first];
        while let Ok(next) = queue.try_recv() {
            pending.push(next);
        }
        let superseded = superseded_saves(&pending);
        for (job, skip) in pending.into_iter().zip(superseded) {
            if !skip {
                run_job(store, job, on_error);
            }
        }
    }
}

/// For each job, whether it is a save that a later save of the same chat makes useless: only
/// when no other work comes between them (a rename or a read must see the earlier one).
fn superseded_saves(jobs: &[Job]) -> Vec<bool> {
    let mut skip = vec![false; jobs.len()];
    for (i, job) in jobs.iter().enumerate() {
        let Job::Save { file, .. } = job else {
            continue;
        };
        for later in &jobs[i + 1..] {
            match later {
                Job::Run(_) => break,
                Job::Save { file: newer, .. } if newer.id == file.id => {
                    skip[i] = true;
                    break;
                }
                Job::Save { .. } => {}
            }
        }
    }
    skip
}

fn run_job(store: &ChatStore, job: Job, on_error: &dyn Fn(String)) {
    match job {
        Job::Save { file, images } => {
            if let Err(e) = store.save(&file, &images) {
                tracing::error!("{e}");
                on_error(e.to_string());
            }
        }
        Job::Run(work) => work(store),
    }
}
