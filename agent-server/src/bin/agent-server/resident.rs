//! What the process keeps resident. On AgentCore every session's microVM holds the process for
//! the session's whole life, idle included, so memory held at ready is paid for hours.
//!
//! The allocator (mimalloc) reserves its arena and asks the kernel for transparent huge pages
//! on it; each 2 MiB page is then resident as soon as one byte of it is touched, which made
//! about 12 of the 30 MiB held at ready. Transparent huge pages are turned off for the process
//! before `main`, before the first allocation, so what is resident stays the 4 KiB pages in
//! use; the cost is a few more TLB misses, unmeasurable beside a model call.

/// Runs before `main` (an ELF constructor), so that not even the runtime's first allocations
/// land on a huge page.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TURN_OFF_HUGE_PAGES: extern "C" fn() = no_transparent_huge_pages;

/// Turns transparent huge pages off for this process (and its children); a kernel without the
/// setting leaves things as they were.
#[cfg(target_os = "linux")]
extern "C" fn no_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours; nothing
    // else runs yet, and nothing here needs the Rust runtime.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}
