//! Stack overflow detection: a SIGSEGV/SIGBUS handler, on an alternate signal stack, that
//! recognises a fault in the guard of the stack the interrupted code ran on, prints
//! "coroutine N overflowed its S-byte stack" and aborts, as std does for threads. Any other
//! fault goes to the handler that was installed before ours, unchanged.
//!
//! # Why it lives in the stack layer
//!
//! The guard is the stack layer's: a stack's span is mapped here with its inaccessible part
//! below the stack, and the region table that says whose frames are on a stack is kept here.
//! So the handler is installed here too, when a stack is handed to an owner on a thread
//! ([`watch_this_thread`], from `OwnedStack::set_owner`): once per process for the handler,
//! once per thread for the alternate signal stack, which must exist on the thread that runs the
//! code that may overflow.
//!
//! The stack layer does not know what an owner is (to it, an opaque pointer that the layer
//! above stores in the region table). What the message needs of the owner (its id, and the
//! stack it runs on) comes through a [`DescribeOwner`] function that the layer above registers
//! once with [`describe_owners_with`]: a `fn` pointer in a static, so that nothing here names a
//! type of the layers above and no stack or owner carries anything more.
//!
//! The handler makes only async-signal-safe calls: loads from the signal context, the region
//! table and (through the registered function) the owner, the write system call, abort(3) and
//! sigaction(2).

use std::cell::Cell;
use std::mem;
use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, Ordering};

use super::region;
use crate::sys;

/// What the handler needs to know of the owner of a stack that faulted: the id its message
/// names, and the bounds of the stack the owner runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StackOwner {
    /// The owner's id, as the message prints it ("coroutine N").
    pub(crate) id: u64,
    /// The lowest address of the guard below the stack ([`Stack::guard`](super::Stack::guard)).
    pub(crate) guard: usize,
    /// The lowest usable address of the stack ([`Stack::limit`](super::Stack::limit)).
    pub(crate) limit: usize,
    /// The usable size in bytes ([`Stack::size`](super::Stack::size)).
    pub(crate) size: usize,
}

impl StackOwner {
    /// The owner `id` running on `stack`.
    #[inline]
    pub(crate) fn new(id: u64, stack: &impl super::Stack) -> StackOwner {
        StackOwner {
            id,
            guard: stack.guard(),
            limit: stack.limit(),
            size: stack.size(),
        }
    }
}

/// Describes the owner that the region table names for the interrupted stack pointer, or
/// `None` when it runs on no guarded stack right now.
///
/// It is called from the signal handler: it must make only async-signal-safe calls (plain loads:
/// no allocation, no lock, no thread-local that may need initialising).
///
/// # Safety
///
/// The caller passes an owner pointer that the region table holds for the stack that the
/// interrupted code ran on, which the layer that stored it keeps alive while code runs there.
pub(crate) type DescribeOwner = unsafe fn(owner: *const ()) -> Option<StackOwner>;

/// The function that describes owners, registered by the layer that stores them: a
/// [`DescribeOwner`], or null until then. (An atomic pointer rather than a `OnceLock`: a
/// registration that is a plain load and branch, with the function passed by value to a cold
/// call, lets the compiler keep what it knows of the caller's locals across it.)
static DESCRIBE: AtomicPtr<()> = AtomicPtr::new(ptr::null_mut());

/// Registers the function that describes the owners the region table holds. The first
/// registration stays (one layer stores owners); it must come before that layer first names
/// an owner, and costs a load and a branch after that.
#[inline]
pub(crate) fn describe_owners_with(describe: DescribeOwner) {
    if DESCRIBE.load(Ordering::Relaxed).is_null() {
        register(describe);
    }
}

#[cold]
#[inline(never)]
fn register(describe: DescribeOwner) {
    let _ = DESCRIBE.compare_exchange(
        ptr::null_mut(),
        describe as *mut (),
        Ordering::Release,
        Ordering::Relaxed,
    );
}

/// The registered describer, if any.
fn describer() -> Option<DescribeOwner> {
    let f = DESCRIBE.load(Ordering::Acquire);
    // SAFETY: the only non-null value ever stored is a `DescribeOwner` (see `register`), and
    // a function pointer survives the round trip through a data pointer on every target coro
    // supports.
    (!f.is_null()).then(|| unsafe { mem::transmute::<*mut (), DescribeOwner>(f) })
}

/// The handlers that were installed before ours, for SIGSEGV and SIGBUS.
static PREVIOUS: [AtomicPtr<libc::sigaction>; 2] = [
    AtomicPtr::new(ptr::null_mut()),
    AtomicPtr::new(ptr::null_mut()),
];

/// Size of the alternate signal stack we give a thread that has none.
const ALT_STACK_SIZE: usize = 64 * 1024;

thread_local! {
    static ALT_STACK_READY: Cell<bool> = const { Cell::new(false) };
}

/// Installs the handler (once per process) and makes sure this thread has an alternate signal
/// stack (once per thread). Cheap after the first call on a thread.
#[inline]
pub(crate) fn watch_this_thread() {
    if !ALT_STACK_READY.with(Cell::get) {
        watch_slow();
    }
}

#[cold]
fn watch_slow() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (i, sig) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
            // SAFETY: a zeroed sigaction is a valid "no handler" value; we fill in ours and
            // install it, keeping the previous one for chaining. The handler only does
            // async-signal-safe things.
            unsafe {
                let mut action: libc::sigaction = mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let old = Box::into_raw(Box::new(mem::zeroed::<libc::sigaction>()));
                if libc::sigaction(sig, &action, old) == 0 {
                    PREVIOUS[i].store(old, Ordering::Release);
                }
            }
        }
    });
    ensure_alt_stack();
    ALT_STACK_READY.with(|r| r.set(true));
}

/// Gives this thread an alternate signal stack if it has none (std gives one to the threads it
/// starts; threads made otherwise may not have one).
fn ensure_alt_stack() {
    // SAFETY: querying the current alternate stack writes only into `old`.
    unsafe {
        let mut old: libc::stack_t = mem::zeroed();
        if libc::sigaltstack(ptr::null(), &mut old) != 0 || old.ss_flags & libc::SS_DISABLE == 0 {
            return;
        }
        let Ok(mem) = sys::map_anonymous(ALT_STACK_SIZE, libc::PROT_READ | libc::PROT_WRITE, 0)
        else {
            return;
        };
        let stack = libc::stack_t {
            ss_sp: mem.cast(),
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        // The mapping stays for the life of the thread (a thread's last coroutine may fault at
        // any time); 64 KiB per thread that ever ran a coroutine without std's alt stack.
        libc::sigaltstack(&stack, ptr::null_mut());
    }
}

/// The stack pointer of the code the signal interrupted.
///
/// # Safety
///
/// `ctx` must be the third argument of an `SA_SIGINFO` handler: the interrupted `ucontext_t`.
#[inline]
unsafe fn interrupted_sp(ctx: *mut libc::c_void) -> usize {
    // SAFETY: the caller's contract; a plain load from the saved registers.
    let mcontext = unsafe { &(*ctx.cast::<libc::ucontext_t>()).uc_mcontext };
    #[cfg(target_arch = "x86_64")]
    let sp = mcontext.gregs[libc::REG_RSP as usize] as usize;
    #[cfg(target_arch = "aarch64")]
    let sp = mcontext.sp as usize;
    #[cfg(target_arch = "riscv64")]
    let sp = mcontext.__gregs[libc::REG_SP] as usize;
    sp
}

/// The signal handler.
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel hands us a valid siginfo for SIGSEGV/SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    // The interrupted code's stack pointer names the owner whose code was running (we run on
    // the alternate signal stack, so our own does not).
    // SAFETY: we are installed with SA_SIGINFO, so `ctx` is the interrupted ucontext.
    let owner = region::owner(unsafe { interrupted_sp(ctx) });
    if !owner.is_null()
        && let Some(describe) = describer()
        // SAFETY: code runs on a stack only while its owner runs, and an owner is named in the
        // region table before it first runs there (see `DescribeOwner`): the owner of the
        // interrupted stack pointer's region is live.
        && let Some(running) = unsafe { describe(owner) }
        && addr >= running.guard
        && addr < running.limit
    {
        report_overflow(running.id, running.size);
    }
    chain(sig, info, ctx);
}

/// Prints the overflow message with write(2) (no allocation, no locks) and aborts.
fn report_overflow(id: u64, size: usize) -> ! {
    let mut buf = [0u8; 128];
    let start = b"coroutine ";
    buf[..start.len()].copy_from_slice(start);
    let mut n = start.len();
    n += write_u64(&mut buf[n..], id);
    let mid = b" overflowed its ";
    buf[n..n + mid.len()].copy_from_slice(mid);
    n += mid.len();
    n += write_u64(&mut buf[n..], size as u64);
    let end = b"-byte stack\nfatal runtime error: coroutine stack overflow, aborting\n";
    buf[n..n + end.len()].copy_from_slice(end);
    n += end.len();
    // The write goes straight to the kernel (a raw system call, which touches neither errno
    // nor the heap): `libc::write` would be coro's own hook (see `hooks`), which is not meant to
    // run in a signal handler.
    let _ = crate::sys::write(2, &buf[..n]);
    // SAFETY: abort(3) is async-signal-safe.
    unsafe { libc::abort() }
}

/// Writes `v` in decimal at the start of `out`, returns the number of bytes.
fn write_u64(out: &mut [u8], mut v: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    out[..len].copy_from_slice(&digits[i..]);
    len
}

/// Hands a fault that is not a coroutine overflow to the previous handler, as if ours were not
/// there: the default action is restored and the faulting instruction runs again.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let i = if sig == libc::SIGSEGV { 0 } else { 1 };
    let prev = PREVIOUS[i].load(Ordering::Acquire);
    // SAFETY: `prev` is null or a leaked sigaction written once before our handler went in.
    let prev = unsafe { prev.as_ref() };
    match prev.map(|p| (p.sa_sigaction, p.sa_flags)) {
        Some((h, flags)) if h != libc::SIG_DFL && h != libc::SIG_IGN => {
            if flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this
                // signature; we call it as the kernel would have.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { mem::transmute(h) };
                f(sig, info, ctx);
            } else {
                // SAFETY: a handler without SA_SIGINFO takes the signal number only.
                let f: extern "C" fn(libc::c_int) = unsafe { mem::transmute(h) };
                f(sig);
            }
        }
        _ => {
            // SAFETY: restoring the default action; returning re-runs the faulting instruction,
            // which then takes the default action (terminate with a core dump).
            unsafe {
                let mut dfl: libc::sigaction = mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigemptyset(&mut dfl.sa_mask);
                libc::sigaction(sig, &dfl, ptr::null_mut());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_in_decimal() {
        let mut buf = [0u8; 20];
        for v in [0, 7, 10, 131_072, u64::MAX] {
            let n = write_u64(&mut buf, v);
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), v.to_string());
        }
    }
}
