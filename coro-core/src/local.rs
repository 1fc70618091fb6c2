//! Coroutine-local storage: the keys that `co_local!` declares, libco's `__thread` analogue.
//!
//! A [`LocalKey<T>`] is a `static` that gives every coroutine its own `T`, made lazily by the
//! key's initializer on the coroutine's first access and dropped when the coroutine ends. Code
//! outside any coroutine gets the thread's own value, as with `thread_local!`.
//!
//! # Layout
//!
//! Each key gets a small index, assigned once per key (the first time any thread uses it) from a
//! global counter. Each coroutine owns a [`LocalSet`]: a `Vec` of slots indexed by key, each slot
//! a boxed value plus the function that drops it. The set hangs off the coroutine's extension
//! word (the one word per coroutine the coroutine layer keeps for the layer above, null until
//! the first access), and is dropped by [`drop_locals`], the end hook this module registers with
//! the coroutine layer, on the coroutine's own stack when its body ends. The thread's own set
//! lives in a `thread_local!`. Values are boxed, so a `&T` handed to [`LocalKey::with`] stays
//! valid while other keys grow the slot vector, and a shared-stack coroutine's values are on the
//! heap, never on the stack that is copied away.
//!
//! An access is: one load of the key's index, the current coroutine's extension word (found
//! from the stack pointer), a bounds-checked slot load and a null check.
//!
//! # Inherited keys
//!
//! A key declared `#[inherit]` (its `T: Clone`) is copied into children: when a coroutine (or a
//! thread, for the first coroutine of `coro::run`) spawns a coroutine or makes a generator,
//! the child's set starts with a clone of each inherited value the parent has, made at the
//! spawn, in the parent (the parallel of tokio's `task_local!` scope, but without the scope:
//! the value simply travels down). A slot remembers how to clone its value; a set remembers
//! whether it holds any inherited one, and [`ANY_INHERITED`] whether any set ever did, so a
//! spawn in a program that uses none pays one load.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::coroutine::{Extension, current_extension};

/// The next key index to hand out.
static NEXT_INDEX: AtomicUsize = AtomicUsize::new(0);

/// Whether any set of the process ever held an inherited value (see the module's docs).
static ANY_INHERITED: AtomicBool = AtomicBool::new(false);

/// Makes a boxed clone of a boxed `T`, for an inherited slot.
type CloneFn = unsafe fn(*mut ()) -> *mut ();

/// A key to a coroutine-local value, declared with `co_local!`.
///
/// Like [`std::thread::LocalKey`], with "coroutine" for "thread": each coroutine sees its own
/// value, made on first access by the key's initializer and dropped when the coroutine ends;
/// outside any coroutine the thread's own value is used.
///
/// ```
/// use std::cell::Cell;
/// coro::co_local! {
///     static DEPTH: Cell<u32> = Cell::new(0);
/// }
/// DEPTH.set(3); // outside a coroutine: the thread's value
/// assert_eq!(DEPTH.get(), 3);
/// ```
pub struct LocalKey<T: 'static> {
    /// Makes a coroutine's (or thread's) first value.
    init: fn() -> T,
    /// The key's slot index plus one; 0 until the key is first used.
    index: AtomicUsize,
    /// How children get a copy of the value, for an `#[inherit]` key.
    inherit: Option<CloneFn>,
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// The error of [`LocalKey::try_with`]: the value was accessed while its storage was being
/// destroyed (from a destructor of another coroutine-local value, or at thread exit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a co_local value was accessed while its coroutine's (or thread's) locals were being destroyed; do not use co_local keys from the destructors of co_local values",
        )
    }
}

impl std::error::Error for AccessError {}

impl<T: 'static> LocalKey<T> {
    /// Makes a key whose values start as `init()`. Used by `co_local!`; not for direct use.
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Self {
        LocalKey {
            init,
            index: AtomicUsize::new(0),
            inherit: None,
        }
    }

    /// Makes an `#[inherit]` key: coroutines spawned (and generators made) by a coroutine that
    /// has a value start with a clone of it. Used by `co_local!`; not for direct use.
    #[doc(hidden)]
    pub const fn new_inherited(init: fn() -> T) -> Self
    where
        T: Clone,
    {
        LocalKey {
            init,
            index: AtomicUsize::new(0),
            inherit: Some(clone_box::<T>),
        }
    }

    /// Whether children get a copy of this key's value.
    pub fn is_inherited(&'static self) -> bool {
        self.inherit.is_some()
    }

    /// Runs `f` on the current coroutine's value (the thread's outside coroutines), making it
    /// first if needed.
    ///
    /// # Panics
    ///
    /// If the value is accessed while the locals are being destroyed; see [`try_with`](Self::try_with).
    #[inline]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// As [`with`](Self::with), but returns [`AccessError`] instead of panicking when the
    /// locals are being destroyed.
    #[inline]
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        let value = self.get_or_init(self.init)?;
        // SAFETY: `get_or_init` returns a pointer to a live boxed `T` owned by the current
        // coroutine's (or thread's) set. The set drops its values only when the coroutine (or
        // thread) ends, which cannot happen while this call runs on it; the box never moves.
        Ok(f(unsafe { value.as_ref() }))
    }

    /// The current set's value for this key, made with `init` when it has none yet.
    ///
    /// The fast path is a few loads and no call: the key's index (0 until assigned, which
    /// wraps to an index no set has), the running coroutine's set (or the thread's, once it
    /// exists), the slot. Everything else (a first use of the key, of the set, of the slot)
    /// takes the cold path.
    #[inline]
    fn get_or_init(&'static self, init: impl FnOnce() -> T) -> Result<NonNull<T>, AccessError> {
        let index = self.index.load(Ordering::Relaxed).wrapping_sub(1);
        if let Some(set) = fast_set() {
            // SAFETY: `fast_set` returns the live set of the running coroutine or thread; no
            // reference into its slot vector is held across calls (see `LocalSet`).
            if let Some(value) = unsafe { set.as_ref().get(index) } {
                return Ok(value.cast());
            }
        }
        self.get_or_init_slow(init)
    }

    /// The cold path of [`get_or_init`](Self::get_or_init): assigns the key's index, makes the
    /// set and the value as needed.
    #[cold]
    #[inline(never)]
    fn get_or_init_slow(
        &'static self,
        init: impl FnOnce() -> T,
    ) -> Result<NonNull<T>, AccessError> {
        let index = self.index();
        let set = current_set().ok_or(AccessError)?;
        // SAFETY: as in `get_or_init`.
        match unsafe { set.as_ref().get(index) } {
            Some(value) => Ok(value.cast()),
            // SAFETY: as above; slot `index` belongs to this key, so it only ever holds `T`s,
            // and `self.inherit` clones `T`s.
            None => Ok(unsafe { set.as_ref().init(index, init, self.inherit) }),
        }
    }

    /// This key's slot index, assigned on first use.
    fn index(&self) -> usize {
        match self.index.load(Ordering::Relaxed) {
            0 => self.assign_index(),
            n => n - 1,
        }
    }

    fn assign_index(&self) -> usize {
        let fresh = NEXT_INDEX.fetch_add(1, Ordering::Relaxed) + 1;
        match self
            .index
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh - 1,
            Err(existing) => existing - 1,
        }
    }

    /// Puts `value` in the current slot without running the initializer when it is empty;
    /// returns the value back when the slot already had one.
    fn init_with(&'static self, value: T) -> Result<Option<T>, AccessError> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("the value is taken once"))?;
        Ok(value)
    }
}

impl<T: 'static> LocalKey<Cell<T>> {
    /// Sets the current coroutine's value, without running the initializer if it had none.
    pub fn set(&'static self, value: T) {
        if let Some(value) = self
            .init_with(Cell::new(value))
            .unwrap_or_else(|e| panic!("{e}"))
        {
            self.with(|cell| cell.set(value.into_inner()));
        }
    }

    /// A copy of the current coroutine's value.
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(Cell::get)
    }

    /// Takes the current coroutine's value, leaving `T::default()`.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(Cell::take)
    }

    /// Replaces the current coroutine's value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> LocalKey<RefCell<T>> {
    /// Runs `f` on a shared borrow of the current coroutine's value.
    ///
    /// # Panics
    ///
    /// If the value is mutably borrowed.
    pub fn with_borrow<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.with(|cell| f(&cell.borrow()))
    }

    /// Runs `f` on a mutable borrow of the current coroutine's value.
    ///
    /// # Panics
    ///
    /// If the value is borrowed.
    pub fn with_borrow_mut<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&mut T) -> R,
    {
        self.with(|cell| f(&mut cell.borrow_mut()))
    }

    /// Sets the current coroutine's value, without running the initializer if it had none.
    ///
    /// # Panics
    ///
    /// If the value is borrowed.
    pub fn set(&'static self, value: T) {
        if let Some(value) = self
            .init_with(RefCell::new(value))
            .unwrap_or_else(|e| panic!("{e}"))
        {
            self.with(|cell| *cell.borrow_mut() = value.into_inner());
        }
    }

    /// Takes the current coroutine's value, leaving `T::default()`.
    ///
    /// # Panics
    ///
    /// If the value is borrowed.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(RefCell::take)
    }

    /// Replaces the current coroutine's value, returning the old one.
    ///
    /// # Panics
    ///
    /// If the value is borrowed.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

/// One slot of a [`LocalSet`]: a boxed value (null when empty), the function that drops it,
/// and for an inherited key the function that clones it.
struct LocalSlot {
    value: *mut (),
    drop: unsafe fn(*mut ()),
    inherit: Option<CloneFn>,
}

impl LocalSlot {
    const EMPTY: LocalSlot = LocalSlot {
        value: ptr::null_mut(),
        drop: drop_nothing,
        inherit: None,
    };
}

/// Clones a `Box<T>` made by [`LocalSet::init`] into a new one.
///
/// # Safety
///
/// `value` points to a live `T` boxed by this module.
unsafe fn clone_box<T: Clone>(value: *mut ()) -> *mut () {
    // SAFETY: the caller's contract.
    let v = unsafe { &*value.cast::<T>() };
    Box::into_raw(Box::new(v.clone())).cast()
}

/// Does nothing: the drop function of an empty slot.
///
/// # Safety
///
/// Always safe; `unsafe` only to match [`LocalSlot::drop`].
unsafe fn drop_nothing(_: *mut ()) {}

/// Drops a `Box<T>` made by [`LocalSet::init`].
///
/// # Safety
///
/// `value` comes from `Box::<T>::into_raw` and is dropped once.
unsafe fn drop_box<T>(value: *mut ()) {
    // SAFETY: the caller's contract.
    drop(unsafe { Box::from_raw(value.cast::<T>()) });
}

/// The coroutine-local values of one coroutine (or thread), indexed by key.
///
/// The vector is only touched through short-lived borrows that never span a call into user code
/// (an initializer or a destructor), so an initializer that uses other keys, which may grow the
/// vector, is sound.
pub(crate) struct LocalSet {
    slots: UnsafeCell<Vec<LocalSlot>>,
    /// Whether a slot holds the value of an inherited key.
    inherits: Cell<bool>,
}

impl LocalSet {
    const fn new() -> Self {
        LocalSet {
            slots: UnsafeCell::new(Vec::new()),
            inherits: Cell::new(false),
        }
    }

    /// The value in slot `index`, if it has one.
    ///
    /// # Safety
    ///
    /// No borrow of the slot vector is live (the set is used by one thread only).
    #[inline]
    unsafe fn get(&self, index: usize) -> Option<NonNull<()>> {
        // SAFETY: the caller's contract: this shared borrow is the only one and ends here.
        let slots = unsafe { &*self.slots.get() };
        slots.get(index).and_then(|slot| NonNull::new(slot.value))
    }

    /// Fills slot `index` with `init()` unless the initializer itself filled it, and returns the
    /// slot's value.
    ///
    /// # Safety
    ///
    /// As [`get`](Self::get), and every value put in slot `index` is a `T`, which `inherit`
    /// (if any) clones.
    #[cold]
    unsafe fn init<T>(
        &self,
        index: usize,
        init: impl FnOnce() -> T,
        inherit: Option<CloneFn>,
    ) -> NonNull<T> {
        // The initializer may use other keys (or this one): no borrow is held across it.
        let fresh = Box::into_raw(Box::new(init()));
        let (kept, spare) = {
            // SAFETY: the caller's contract; this borrow ends before any user code runs.
            let slots = unsafe { &mut *self.slots.get() };
            if slots.len() <= index {
                slots.resize_with(index + 1, || LocalSlot::EMPTY);
            }
            let slot = &mut slots[index];
            if slot.value.is_null() {
                slot.value = fresh.cast();
                slot.drop = drop_box::<T>;
                slot.inherit = inherit;
                if inherit.is_some() {
                    self.inherits.set(true);
                    ANY_INHERITED.store(true, Ordering::Relaxed);
                }
                (fresh, None)
            } else {
                // The initializer used its own key: keep that value, which may be borrowed.
                (slot.value.cast::<T>(), Some(fresh))
            }
        };
        if let Some(spare) = spare {
            // SAFETY: `spare` came from `Box::into_raw` above and was never shared.
            drop(unsafe { Box::from_raw(spare) });
        }
        // SAFETY: both candidates come from `Box::into_raw`, never null.
        unsafe { NonNull::new_unchecked(kept) }
    }

    /// Drops every value, one at a time, with no borrow held while a destructor runs.
    fn clear(&self) {
        let mut index = 0;
        loop {
            let taken = {
                // SAFETY: single-threaded; the borrow ends before the destructor runs.
                let slots = unsafe { &mut *self.slots.get() };
                if index >= slots.len() {
                    break;
                }
                let slot = &mut slots[index];
                std::mem::replace(slot, LocalSlot::EMPTY)
            };
            if !taken.value.is_null() {
                // SAFETY: the slot owned this value and was emptied, so it is dropped once,
                // with the function recorded for its type.
                unsafe { (taken.drop)(taken.value) };
            }
            index += 1;
        }
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The thread's own set: forgets [`THREAD_SET_PTR`] before its values are dropped.
struct ThreadSet(LocalSet);

impl Drop for ThreadSet {
    fn drop(&mut self) {
        THREAD_SET_PTR.with(|p| p.set(ptr::null()));
        // The values drop after this, with the fast path closed: a destructor that uses a key
        // reaches the cold path, which finds THREAD_SET gone and reports `AccessError`.
    }
}

thread_local! {
    /// The values of code running outside any coroutine on this thread.
    static THREAD_SET: ThreadSet = const { ThreadSet(LocalSet::new()) };
    /// `THREAD_SET`'s address once it is registered (null before and during its destruction):
    /// a plain load for the fast path, where `THREAD_SET` would check its registration state.
    static THREAD_SET_PTR: Cell<*const LocalSet> = const { Cell::new(ptr::null()) };
}

/// The marker a coroutine's extension word holds while its values are dropped.
#[inline]
fn destroyed() -> *mut () {
    NonNull::<LocalSet>::dangling().as_ptr().cast()
}

/// The set of the running coroutine, or the thread's outside coroutines, when it exists and is
/// not being destroyed; no allocation, no registration.
#[inline]
fn fast_set() -> Option<NonNull<LocalSet>> {
    match current_extension() {
        Some(ext) => {
            let set = ext.get();
            if set == destroyed() {
                None
            } else {
                NonNull::new(set.cast())
            }
        }
        None => NonNull::new(THREAD_SET_PTR.with(Cell::get).cast_mut()),
    }
}

/// The set of the running coroutine, or the thread's outside coroutines, made if needed;
/// `None` while it is being destroyed.
fn current_set() -> Option<NonNull<LocalSet>> {
    match current_extension() {
        Some(ext) => {
            let set = ext.get();
            if set.is_null() {
                Some(new_set(ext))
            } else if set == destroyed() {
                None
            } else {
                NonNull::new(set.cast())
            }
        }
        None => THREAD_SET
            .try_with(|set| {
                THREAD_SET_PTR.with(|p| p.set(&set.0));
                NonNull::from(&set.0)
            })
            .ok(),
    }
}

/// Makes the running coroutine's set and hangs it on its extension word.
#[cold]
fn new_set(ext: &Extension) -> NonNull<LocalSet> {
    // Before the first word is set: the coroutine layer calls `drop_locals` on every word that
    // is set when its coroutine's body ends.
    crate::coroutine::set_end_hook(drop_locals);
    let set = NonNull::from(Box::leak(Box::new(LocalSet::new())));
    ext.set(set.as_ptr().cast());
    set
}

/// Drops a coroutine's co_local values: the coroutine layer's end hook (registered by
/// [`new_set`]), which it calls on the coroutine's own stack when its body ends (normally, by
/// panic or by forced unwind), before its stack is released; and [`drop_current_locals`].
///
/// While the values are dropped the word holds a marker, so that a destructor that uses a
/// co_local key gets [`AccessError`] instead of a new set that nobody would free. The word is
/// null again afterwards, so the coroutine layer finds nothing left to end.
fn drop_locals(ext: &Extension) {
    let set = ext.replace(destroyed());
    if !set.is_null() && set != destroyed() {
        // SAFETY: a non-null, non-marker pointer in the cell came from `new_set`'s
        // `Box::leak` and is owned by this coroutine, which is ending.
        drop(unsafe { Box::from_raw(set.cast::<LocalSet>()) });
    }
    ext.set(ptr::null_mut());
}

/// Gives the coroutine whose extension word is `child` (made, not started) a clone of every
/// inherited value of the running coroutine (or of the thread, outside coroutines). One load
/// when no inherited key was ever used. A clone that panics drops the copies made so far and
/// lets the panic go on: the spawn panics in the spawner and the child never runs.
#[inline]
pub(crate) fn inherit_into(child: &Extension) {
    if ANY_INHERITED.load(Ordering::Relaxed) {
        inherit_slow(child);
    }
}

#[cold]
#[inline(never)]
fn inherit_slow(child: &Extension) {
    let Some(parent) = fast_set() else {
        return;
    };
    // SAFETY: `fast_set` returns the live set of the running coroutine or thread.
    let parent = unsafe { parent.as_ref() };
    if !parent.inherits.get() || !child.get().is_null() {
        return;
    }
    let set = LocalSet::new();
    let mut index = 0;
    loop {
        // A short borrow per slot: a clone is user code, which may use (and grow) the set.
        let (value, clone, drop) = {
            // SAFETY: single-threaded; the borrow ends before the clone runs.
            let slots = unsafe { &*parent.slots.get() };
            match slots.get(index) {
                None => break,
                Some(s) => (s.value, s.inherit, s.drop),
            }
        };
        if let (false, Some(clone)) = (value.is_null(), clone) {
            // SAFETY: an inherited slot's value is a boxed `T` that `clone` (clone_box::<T>)
            // was made for; the parent's box lives on during the call (its coroutine runs it).
            let copy = unsafe { clone(value) };
            // SAFETY: `set` is ours alone; nothing else borrows its vector.
            let slots = unsafe { &mut *set.slots.get() };
            if slots.len() <= index {
                slots.resize_with(index + 1, || LocalSlot::EMPTY);
            }
            // The parent's slot `index` has the same key, so its drop fits the copy's type.
            slots[index] = LocalSlot {
                value: copy,
                drop,
                inherit: Some(clone),
            };
            set.inherits.set(true);
        }
        index += 1;
    }
    crate::coroutine::set_end_hook(drop_locals);
    child.set(Box::into_raw(Box::new(set)).cast());
}

/// Drops the running coroutine's co_local values now, on its own stack: a task does so inside
/// its own `catch_unwind`, so that a destructor that panics ends that coroutine only, and its
/// `join` gets the panic. What is left to drop when the body ends is then nothing.
pub(crate) fn drop_current_locals() {
    if let Some(ext) = current_extension() {
        drop_locals(ext);
    }
}
