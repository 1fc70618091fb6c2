//! Stack overflow detection: a SIGSEGV/SIGBUS handler, on an alternate signal stack, that
//! recognises a fault in the guard of the running coroutine's stack, prints
//! "coroutine N overflowed its S-byte stack" and aborts, as std does for threads. Any other
//! fault goes to the handler that was installed before ours, unchanged.

use std::cell::Cell;
use std::mem;
use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::coroutine::Control;

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
pub(crate) fn install() {
    if !ALT_STACK_READY.with(Cell::get) {
        install_slow();
    }
}

#[cold]
fn install_slow() {
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
        let Ok(mem) =
            crate::sys::map_anonymous(ALT_STACK_SIZE, libc::PROT_READ | libc::PROT_WRITE, 0)
        else {
            return;
        };
        let stack = libc::stack_t {
            ss_sp: mem.cast(),
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        // The mapping stays for the life of the thread (a thread's last coroutine may fault at
        // any time); 64 KiB per thread that ever made a coroutine without std's alt stack.
        libc::sigaltstack(&stack, ptr::null_mut());
    }
}

/// The signal handler. Only async-signal-safe calls: reads of the signal context, of a word of
/// the stack-region table and of the running coroutine's control block, the write system call,
/// abort(3), sigaction(2).
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel hands us a valid siginfo for SIGSEGV/SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    // The interrupted code's stack pointer names the coroutine that was running (we run on the
    // alternate signal stack, so our own does not).
    // SAFETY: for SA_SIGINFO handlers the third argument is the interrupted ucontext.
    let sp = unsafe { (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RSP as usize] };
    let core: *const Control = crate::stack::region_owner(sp as usize).cast();
    if !core.is_null() {
        // SAFETY: code runs on a coroutine stack only while that coroutine runs, and a coroutine
        // names itself the owner of its stack's region before it first runs (or takes a shared
        // stack over): the owner of the interrupted stack pointer's region is the live Control of
        // the coroutine that was running.
        let bounds = unsafe { Control::stack_bounds(core) };
        if let Some((guard, limit, size)) = bounds
            && addr >= guard
            && addr < limit
        {
            // SAFETY: as above.
            let id = unsafe { (*core).id() };
            report_overflow(id, size);
        }
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
    // SAFETY: the write system call and abort(3) are async-signal-safe; `buf[..n]` is
    // initialised. The write goes straight to the kernel: `libc::write` would be coro's own
    // hook (see `hooks`), which is not meant to run in a signal handler.
    unsafe {
        libc::syscall(libc::SYS_write, 2, buf.as_ptr(), n);
        libc::abort();
    }
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
