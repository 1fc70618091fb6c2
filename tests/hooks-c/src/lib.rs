//! Test crate: Rust bindings to a small C file (`c/blocking_client.c`) that does blocking
//! socket I/O through libc, to show that C code linked into a coro program yields inside
//! coroutines through the hooks.

use std::ffi::c_char;

unsafe extern "C" {
    fn coro_c_echo_once(
        port: u16,
        msg: *const c_char,
        len: usize,
        out: *mut c_char,
    ) -> libc::c_long;
    fn coro_c_usleep(usec: libc::c_uint) -> libc::c_int;
}

/// Connects to `127.0.0.1:port` from C, sends `msg`, receives as many bytes back and returns
/// them (or the C code's errno).
pub fn echo_once(port: u16, msg: &[u8]) -> Result<Vec<u8>, i32> {
    let mut out = vec![0u8; msg.len()];
    // SAFETY: `msg` and `out` are valid for `msg.len()` bytes each.
    let r = unsafe {
        coro_c_echo_once(
            port,
            msg.as_ptr().cast(),
            msg.len(),
            out.as_mut_ptr().cast(),
        )
    };
    if r < 0 {
        return Err(-r as i32);
    }
    out.truncate(r as usize);
    Ok(out)
}

/// Calls libc's `usleep` from C.
pub fn c_usleep(usec: u32) -> i32 {
    // SAFETY: usleep has no preconditions.
    unsafe { coro_c_usleep(usec) }
}
