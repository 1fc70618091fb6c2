//! Coroutine-aware sockets.
