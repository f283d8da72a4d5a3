//! A connection between the accept loop and a worker: what the head reader and the workers
//! take from the queue (a leaf, so accept, heads and handle import it and not each other).

use crate::http;
use crate::transport::Conn;

/// A connection waiting for a worker.
pub(super) struct Waiting {
    pub id: u64,
    pub conn: Conn,
    pub peer: String,
    /// HTTP mode: how reading the request head ended (read before the connection reached a
    /// worker).
    pub head: Option<Result<Vec<u8>, http::HeadError>>,
}
