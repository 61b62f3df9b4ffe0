//! A per-thread ceiling on libgit2's allocations, so that a blob is read in one call and a blob over
//! `--max-file-size` still never reaches memory.
//!
//! libgit2 allocates the whole of an object before it inflates into it (the size comes from the object's
//! header, or from a delta's). Asking for the header first, to learn the size, costs a second lookup of the
//! object in the pack index and a walk down its whole delta chain, with the pack's locks taken at every step:
//! about a tenth of a history scan, and more of it on two threads, which wait on those locks. Instead, libgit2
//! is given an allocator ([`install`]) that, on a thread inside [`with_ceiling`], refuses any single allocation
//! over the ceiling. A hostile multi-gigabyte blob then fails at its first allocation, before anything is
//! inflated, and is told apart from a damaged one by the refusal.
//!
//! The allocator is libc's `malloc`, `realloc` and `free`, as libgit2's own default is, so memory allocated
//! before it was installed is freed correctly after.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// The largest single allocation libgit2 may make on this thread.
    static CEILING: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Whether an allocation was refused since [`with_ceiling`] began.
    static REFUSED: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// libgit2's `git_allocator` (include/git2/sys/alloc.h).
#[repr(C)]
struct GitAllocator {
    gmalloc: unsafe extern "C" fn(usize, *const c_char, c_int) -> *mut c_void,
    grealloc: unsafe extern "C" fn(*mut c_void, usize, *const c_char, c_int) -> *mut c_void,
    gfree: unsafe extern "C" fn(*mut c_void),
}

/// Whether `size` bytes may be allocated now on this thread; a refusal is remembered.
fn allowed(size: usize) -> bool {
    let allowed = size <= CEILING.with(Cell::get);
    if !allowed {
        REFUSED.with(|refused| refused.set(true));
    }
    allowed
}

unsafe extern "C" fn ceiling_malloc(size: usize, _file: *const c_char, _line: c_int) -> *mut c_void {
    if !allowed(size) {
        return std::ptr::null_mut();
    }
    // SAFETY: plain malloc; libgit2 checks the result for NULL.
    unsafe { libc::malloc(size) }
}

unsafe extern "C" fn ceiling_realloc(ptr: *mut c_void, size: usize, _file: *const c_char, _line: c_int) -> *mut c_void {
    if !allowed(size) {
        // realloc's contract on failure: `ptr` stays valid and owned by the caller.
        return std::ptr::null_mut();
    }
    // SAFETY: `ptr` is NULL or came from malloc/realloc (this allocator's or libgit2's default, both libc's).
    unsafe { libc::realloc(ptr, size) }
}

unsafe extern "C" fn ceiling_free(ptr: *mut c_void) {
    // SAFETY: as for realloc.
    unsafe { libc::free(ptr) }
}

/// Gives libgit2 the allocator with a ceiling (once per process). Whether it is in place: when it is not,
/// [`with_ceiling`] refuses nothing and a caller must learn sizes some other way.
pub fn install() -> bool {
    INSTALL.call_once(|| {
        // Initialises libgit2 first: its initialisation sets the default allocator.
        libgit2_sys::init();
        let allocator = GitAllocator {
            gmalloc: ceiling_malloc,
            grealloc: ceiling_realloc,
            gfree: ceiling_free,
        };
        // SAFETY: GIT_OPT_SET_ALLOCATOR takes a `git_allocator *`, whose three function pointers libgit2 copies.
        // Any thread that reads them while they change still pairs libc's malloc with libc's free.
        let status = unsafe {
            libgit2_sys::git_libgit2_opts(
                libgit2_sys::GIT_OPT_SET_ALLOCATOR as c_int,
                &allocator as *const GitAllocator,
            )
        };
        INSTALLED.store(status == 0, Ordering::Release);
    });
    INSTALLED.load(Ordering::Acquire)
}

/// Runs `read` with libgit2 allowed no single allocation over `ceiling` bytes on this thread. Returns what
/// `read` returned and whether an allocation was refused.
pub fn with_ceiling<T>(ceiling: usize, read: impl FnOnce() -> T) -> (T, bool) {
    /// Lifts the ceiling again, even if `read` panics.
    struct Lift(usize);
    impl Drop for Lift {
        fn drop(&mut self) {
            CEILING.with(|c| c.set(self.0));
        }
    }
    let _lift = Lift(CEILING.with(|c| c.replace(ceiling)));
    REFUSED.with(|refused| refused.set(false));
    let value = read();
    (value, REFUSED.with(|refused| refused.replace(false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_reported_and_the_ceiling_lifted_after() {
        let (small, refused) = with_ceiling(1024, || allowed(1024));
        assert!(small && !refused);
        let (large, refused) = with_ceiling(1024, || allowed(1025));
        assert!(!large && refused);
        assert!(allowed(usize::MAX - 1), "no ceiling outside with_ceiling");
        assert!(!REFUSED.with(Cell::get));
    }
}
