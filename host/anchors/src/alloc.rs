//! A counting global allocator: heap bytes allocated per stage.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static EXCLUDED: Cell<bool> = const { Cell::new(false) };
}

/// The system allocator, counting the bytes it hands out.
///
/// A binary opts in with
/// `#[global_allocator] static A: CountingAllocator = CountingAllocator;`.
/// Counting costs one relaxed atomic add per allocation.
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to `System`; the counter is
// only bookkeeping.
unsafe impl GlobalAlloc for CountingAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A growing realloc counts the growth; a shrinking one nothing.
        count(new_size.saturating_sub(layout.size()));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[inline]
fn count(bytes: usize) {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    // `try_with`: a thread being torn down has no thread-locals left.
    if EXCLUDED.try_with(Cell::get).unwrap_or(false) {
        return;
    }
    ALLOCATED.fetch_add(bytes as u64, Ordering::Relaxed);
}

/// Heap bytes allocated so far by the counted threads (0 without
/// [`CountingAllocator`]).
#[inline]
pub fn allocated_bytes() -> u64 {
    ALLOCATED.load(Ordering::Relaxed)
}

/// Whether [`CountingAllocator`] is the global allocator (it has seen an
/// allocation).
pub fn is_counting() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Leaves the calling thread's allocations out of the count, e.g. a
/// monitor thread that must not show in the stages it measures.
pub fn exclude_this_thread() {
    EXCLUDED.with(|e| e.set(true));
}
