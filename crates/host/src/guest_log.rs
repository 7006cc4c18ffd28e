//! The guest's stderr, captured per request.
//!
//! A warm instance serves many requests with one WASI context, so its stderr cannot be a fresh
//! pipe per request: before each call the host [`start`](GuestLog::start)s a [`RequestLog`] that
//! receives what the guest writes until the next start. Past `capacity` bytes per request the
//! rest is dropped (a log must never trap the guest).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// The stderr of one store.
#[derive(Clone)]
pub struct GuestLog {
    current: Arc<Mutex<RequestLog>>,
    capacity: usize,
}

/// What the guest wrote during one request.
#[derive(Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<u8>>>);

impl RequestLog {
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *lock(&self.0))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl GuestLog {
    pub fn new(capacity: usize) -> Self {
        GuestLog { current: Arc::default(), capacity }
    }

    /// From now on the guest writes into a new request log, which is returned.
    pub fn start(&self) -> RequestLog {
        let log = RequestLog::default();
        *lock(&self.current) = log.clone();
        log
    }

    fn append(&self, bytes: &[u8]) {
        let log = lock(&self.current).clone();
        let mut buffer = lock(&log.0);
        let room = self.capacity.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestLog {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(self.capacity.max(1))
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestLog {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestLog {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_log_gets_what_was_written_until_the_next_start_up_to_the_capacity() {
        let log = GuestLog::new(8);
        let mut stream = log.clone();
        let first = log.start();
        stream.write(Bytes::from_static(b"hello ")).unwrap();
        stream.write(Bytes::from_static(b"world")).unwrap();
        let second = log.start();
        stream.write(Bytes::from_static(b"again")).unwrap();
        assert_eq!(second.take(), b"again");
        assert_eq!(first.take(), b"hello wo");
        assert!(first.take().is_empty());
    }
}
