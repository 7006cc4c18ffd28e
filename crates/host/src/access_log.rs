//! The request log on stdout, written by a thread of its own every few milliseconds while lines
//! keep coming (one `write` per batch rather than one per request, and logging a line seldom has
//! to wake the thread), and within a few milliseconds of a line on an idle server.

use std::io::{BufWriter, Stdout, Write as _};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Duration;

/// Lines waiting for the thread; past this, logging waits for it (as a blocked stdout would).
const QUEUE: usize = 8192;
/// Bytes written per batch at most.
const BUFFER: usize = 64 << 10;
/// How long the thread lets lines queue up between writes while they keep coming.
const BATCH_PAUSE: Duration = Duration::from_millis(5);
/// How long [`AccessLog::sync`] waits for the thread.
const SYNC_TIMEOUT: Duration = Duration::from_secs(2);

enum Message {
    Line(String),
    /// Everything sent before has been written when this is answered.
    Sync(SyncSender<()>),
}

/// A handle on the log thread; cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    queue: Option<SyncSender<Message>>,
}

impl AccessLog {
    /// Starts the thread; when it cannot start, lines are printed directly.
    pub fn start() -> AccessLog {
        let (queue, lines) = sync_channel(QUEUE);
        match std::thread::Builder::new().name("portcullis-log".into()).spawn(move || write_lines(&lines)) {
            Ok(_) => AccessLog { queue: Some(queue) },
            Err(e) => {
                eprintln!("portcullis: no log thread ({e}); logging directly");
                AccessLog { queue: None }
            }
        }
    }

    pub fn line(&self, line: String) {
        let unsent = match &self.queue {
            Some(queue) => queue.send(Message::Line(line)).err().and_then(|e| match e.0 {
                Message::Line(line) => Some(line),
                Message::Sync(_) => None,
            }),
            None => Some(line),
        };
        if let Some(line) = unsent {
            println!("{line}");
        }
    }

    /// Waits (boundedly) until every line logged so far is written.
    pub fn sync(&self) {
        let Some(queue) = &self.queue else { return };
        let (done, written) = sync_channel(1);
        if queue.send(Message::Sync(done)).is_ok() {
            let _ = written.recv_timeout(SYNC_TIMEOUT);
        }
    }
}

fn write_lines(messages: &Receiver<Message>) {
    let mut out = BufWriter::with_capacity(BUFFER, std::io::stdout());
    // Wait for a line; then, as long as lines keep coming, let them queue up for a moment and
    // write them together. Between lines the thread sleeps rather than waits on the queue, so
    // that logging a line does not have to wake it.
    while let Ok(message) = messages.recv() {
        write(&mut out, message);
        loop {
            std::thread::sleep(BATCH_PAUSE);
            let mut wrote = 0;
            while let Ok(message) = messages.try_recv() {
                write(&mut out, message);
                wrote += 1;
            }
            let _ = out.flush();
            if wrote == 0 {
                break;
            }
        }
    }
}

fn write(out: &mut BufWriter<Stdout>, message: Message) {
    match message {
        Message::Line(line) => {
            let _ = writeln!(out, "{line}");
        }
        Message::Sync(done) => {
            let _ = out.flush();
            let _ = done.send(());
        }
    }
}
