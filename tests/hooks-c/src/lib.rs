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
    fn coro_c_poll_then_read(fd: libc::c_int, out: *mut c_char, len: usize) -> libc::c_long;
    fn coro_c_read(fd: libc::c_int, out: *mut c_char, len: usize) -> libc::c_long;
}

/// Waits in C with `poll(2)` until `fd` is readable, then reads into `buf`: the bytes read,
/// or the errno of the C call that failed.
pub fn poll_then_read(fd: std::os::fd::RawFd, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes; the C code reads at most that.
    let r = unsafe { coro_c_poll_then_read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        Err(-r as i32)
    } else {
        Ok(r as usize)
    }
}

/// Reads `fd` from C with a blocking `read(2)`: the bytes read, or the C code's errno.
pub fn read(fd: std::os::fd::RawFd, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: as in `poll_then_read`.
    let r = unsafe { coro_c_read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        Err(-r as i32)
    } else {
        Ok(r as usize)
    }
}

/// Connects to `127.0.0.1:port` from C, sends `msg`, receives as many bytes back and returns
/// them (or the C code's errno).
pub fn echo_once(port: u16, msg: &[u8]) -> Result<Vec<u8>, i32> {
    echo_through(coro_c_echo_once, port, msg)
}

/// The C function `coro_c_echo_once`, statically linked or dlopen'ed.
type EchoFn = unsafe extern "C" fn(u16, *const c_char, usize, *mut c_char) -> libc::c_long;

/// Calls a copy of `coro_c_echo_once` with `msg` and a buffer as long for the answer.
fn echo_through(echo: EchoFn, port: u16, msg: &[u8]) -> Result<Vec<u8>, i32> {
    let mut out = vec![0u8; msg.len()];
    // SAFETY: `echo` is the C function of that signature (linked, or resolved by `dlsym` and
    // never unloaded); `msg` and `out` are valid for `msg.len()` bytes each.
    let r = unsafe {
        echo(
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

/// The C client of [`echo_once`], from the same C file built as a shared library and loaded
/// with `dlopen(RTLD_NOW | RTLD_LOCAL)`: its libc calls still bind to the executable's hooks,
/// which come first in the global symbol scope.
#[derive(Debug)]
pub struct Dlopened {
    echo: EchoFn,
}

impl Dlopened {
    /// Loads the shared library built by this crate's build script.
    pub fn load() -> Result<Dlopened, String> {
        let path = std::ffi::CString::new(env!("CORO_HOOKS_C_SO")).expect("path");
        // SAFETY: a NUL-terminated path; the library has no constructors with side effects.
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(format!("dlopen {}: failed", env!("CORO_HOOKS_C_SO")));
        }
        // SAFETY: a valid handle and a NUL-terminated name.
        let sym = unsafe { libc::dlsym(handle, c"coro_c_echo_once".as_ptr()) };
        if sym.is_null() {
            return Err("dlsym coro_c_echo_once: not found".into());
        }
        // SAFETY: the symbol is the C function with this signature (blocking_client.c); the
        // library stays loaded (never dlclosed).
        let echo = unsafe { std::mem::transmute::<*mut libc::c_void, EchoFn>(sym) };
        Ok(Dlopened { echo })
    }

    /// As [`echo_once`], through the dlopen'ed copy.
    pub fn echo_once(&self, port: u16, msg: &[u8]) -> Result<Vec<u8>, i32> {
        echo_through(self.echo, port, msg)
    }
}
