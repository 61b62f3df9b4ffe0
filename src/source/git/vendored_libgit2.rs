//! Checks that the libgit2 linked in is the patched copy in `vendor/libgit2-sys` (see `vendor/README.md`):
//! without the patch, two threads reading one pack sleep on libgit2's mutexes thousands of times a scan, and
//! nothing but the benchmark would show it.

#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
mod glibc_x86_64 {
    unsafe extern "C" {
        /// libgit2's one global mutex, over the list of every pack window (`src/libgit2/mwindow.c`).
        static git_mwindow__mutex: libc::pthread_mutex_t;
    }

    /// glibc's `PTHREAD_MUTEX_ADAPTIVE_NP` (the libc crate does not export it).
    const ADAPTIVE: i32 = 3;

    #[test]
    fn libgit2_mutexes_spin_before_they_sleep() {
        // libgit2 initialises its global mutexes here.
        libgit2_sys::init();
        // glibc's pthread_mutex_t on x86_64 starts with five ints: lock, count, owner, users, then the kind,
        // which pthread_mutex_init sets and nothing changes after.
        // SAFETY: the static is a pthread_mutex_t (40 bytes) that lives for the whole process; only its kind,
        // written once at initialisation, is read.
        let kind = unsafe { std::ptr::read_volatile((&raw const git_mwindow__mutex).cast::<i32>().add(4)) };
        assert_eq!(
            kind & 0x7f,
            ADAPTIVE,
            "libgit2 was built without vendor/libgit2-sys-adaptive-mutexes.patch"
        );
    }
}

/// The pack caches of the libgit2 linked in free their entries by age
/// (`vendor/libgit2-sys-pack-cache-by-age.patch`): the published libgit2 empties a pack's cache of delta bases
/// whenever it is full, and a long history's walk then inflates the same bases again and again (a million
/// commits: 50 s instead of 29 s, see `vendor/README.md`). The patch adds a function that says so; a libgit2
/// without it fails this test at link time.
mod pack_cache {
    unsafe extern "C" {
        fn git_pack__keyhound_cache_by_age() -> std::ffi::c_int;
    }

    #[test]
    fn libgit2_pack_caches_free_their_oldest_entries() {
        // SAFETY: a C function of the vendored libgit2 that takes nothing and returns a constant.
        assert_eq!(unsafe { git_pack__keyhound_cache_by_age() }, 1);
    }
}
