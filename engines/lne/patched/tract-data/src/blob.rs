use num_traits::Zero;

use crate::{TractError, TractResult};
use std::alloc::*;
use std::cell::RefCell;
use std::fmt::Display;
use std::hash::Hash;
use std::ptr::null_mut;

/// Buffers smaller than this are left to the allocator.
const POOLED_MIN_BYTES: usize = 4096;

thread_local! {
    static POOL: RefCell<Option<BlobPool>> = const { RefCell::new(None) };
}

/// Freed blob buffers kept for reuse.
///
/// While a pool is active on a thread ([`with_blob_pool`]), a blob of at
/// least 4 KiB freed on that thread keeps its buffer here, and a blob
/// allocated there takes back the most recently freed buffer of its alignment
/// that fits it (at most twice its size) instead of calling the allocator. A
/// plan run with fixed shapes frees and allocates the same sizes run after
/// run, so from the second run on its tensors cost no allocation, as with
/// ONNX Runtime's arena; and the buffer a node gets is the one its
/// predecessor just freed, still in cache, as a general-purpose allocator
/// would hand out. The pool holds at most `limit` bytes (freeing beyond that),
/// and frees everything when dropped.
pub struct BlobPool {
    /// Most recently freed last.
    free: Vec<Freed>,
    bytes: usize,
    limit: usize,
}

/// A buffer the pool holds: `alloc(Layout(capacity, align))`.
struct Freed {
    capacity: usize,
    align: usize,
    data: *mut u8,
}

// SAFETY: the pool owns the buffers it holds; nothing else points to them.
unsafe impl Send for BlobPool {}

impl BlobPool {
    /// An empty pool that keeps at most `limit` bytes.
    pub fn new(limit: usize) -> BlobPool {
        BlobPool { free: Vec::new(), bytes: 0, limit }
    }

    /// Bytes held for reuse.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The most recently freed buffer that fits `layout`, with its capacity.
    fn take(&mut self, layout: Layout) -> Option<(*mut u8, usize)> {
        let (size, align) = (layout.size(), layout.align());
        let fits = |f: &Freed| f.align == align && f.capacity >= size && f.capacity / 2 <= size;
        let i = self.free.iter().rposition(fits)?;
        let f = self.free.remove(i);
        self.bytes -= f.capacity;
        Some((f.data, f.capacity))
    }

    /// Keeps `data` or, over the limit, hands it back.
    fn keep(&mut self, capacity: usize, align: usize, data: *mut u8) -> Option<*mut u8> {
        if self.bytes + capacity > self.limit {
            return Some(data);
        }
        self.bytes += capacity;
        self.free.push(Freed { capacity, align, data });
        None
    }
}

impl Default for BlobPool {
    /// A pool of at most 1 GiB.
    fn default() -> BlobPool {
        BlobPool::new(1 << 30)
    }
}

impl Drop for BlobPool {
    fn drop(&mut self) {
        for f in self.free.drain(..) {
            // SAFETY: `data` came from `alloc` with this capacity and
            // alignment, and is owned by the pool.
            unsafe { dealloc(f.data, Layout::from_size_align_unchecked(f.capacity, f.align)) }
        }
    }
}

/// Runs `f` with `pool` active on this thread (see [`BlobPool`]); the pool
/// active before, if any, is active again afterwards, also when `f` panics.
pub fn with_blob_pool<R>(pool: &mut BlobPool, f: impl FnOnce() -> R) -> R {
    struct Restore<'a> {
        pool: &'a mut BlobPool,
        previous: Option<BlobPool>,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let previous = self.previous.take();
            if let Some(active) = POOL.with(|p| p.replace(previous)) {
                *self.pool = active;
            }
        }
    }
    let active = std::mem::replace(pool, BlobPool::new(0));
    let previous = POOL.with(|p| p.replace(Some(active)));
    let _restore = Restore { pool, previous };
    f()
}

/// A pooled buffer for `layout`, with its capacity.
fn pooled_alloc(layout: Layout) -> Option<(*mut u8, usize)> {
    if layout.size() < POOLED_MIN_BYTES {
        return None;
    }
    POOL.try_with(|p| p.try_borrow_mut().ok()?.as_mut()?.take(layout)).ok().flatten()
}

/// Gives `data` to the active pool; hands it back when there is none or it is full.
fn pooled_dealloc(capacity: usize, align: usize, data: *mut u8) -> Option<*mut u8> {
    if capacity < POOLED_MIN_BYTES {
        return Some(data);
    }
    POOL.try_with(|p| match p.try_borrow_mut() {
        Ok(mut p) => match p.as_mut() {
            Some(pool) => pool.keep(capacity, align, data),
            None => Some(data),
        },
        Err(_) => Some(data),
    })
    .unwrap_or(Some(data))
}

#[derive(Eq)]
pub struct Blob {
    layout: std::alloc::Layout,
    /// Bytes allocated at `data` (at least `layout.size()`; more when a
    /// pooled buffer was bigger).
    capacity: usize,
    data: *mut u8,
}

impl Default for Blob {
    #[inline]
    fn default() -> Blob {
        Blob::from_bytes(&[]).unwrap()
    }
}

impl Clone for Blob {
    #[inline]
    fn clone(&self) -> Self {
        Blob::from_bytes_alignment(self, self.layout.align()).unwrap()
    }
}

impl Drop for Blob {
    #[inline]
    fn drop(&mut self) {
        if !self.data.is_null() {
            let align = self.layout.align();
            if let Some(data) = pooled_dealloc(self.capacity, align, self.data) {
                unsafe { dealloc(data, Layout::from_size_align_unchecked(self.capacity, align)) }
            }
        }
    }
}

impl PartialEq for Blob {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.layout == other.layout && self.as_bytes() == other.as_bytes()
    }
}

impl Hash for Blob {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.layout.align().hash(state);
        self.as_bytes().hash(state);
    }
}

impl Blob {
    #[inline]
    pub unsafe fn new_for_size_and_align(size: usize, align: usize) -> Blob {
        unsafe { Self::for_layout(Layout::from_size_align_unchecked(size, align)) }
    }

    #[inline]
    pub unsafe fn ensure_size_and_align(&mut self, size: usize, align: usize) {
        if size > self.layout.size() || align > self.layout.align() {
            if !self.data.is_null() {
                let allocated =
                    unsafe { Layout::from_size_align_unchecked(self.capacity, self.layout.align()) };
                unsafe { std::alloc::dealloc(self.data as _, allocated) };
            }
            self.layout = unsafe { Layout::from_size_align_unchecked(size, align) };
            self.capacity = size;
            self.data = unsafe { std::alloc::alloc(self.layout) };
            assert!(!self.data.is_null());
        }
    }

    #[inline]
    pub unsafe fn for_layout(layout: Layout) -> Blob {
        let (mut data, mut capacity) = (null_mut(), layout.size());
        if layout.size() > 0 {
            (data, capacity) = match pooled_alloc(layout) {
                Some(pooled) => pooled,
                None => (unsafe { alloc(layout) }, layout.size()),
            };
            assert!(!data.is_null(), "failed to allocate {layout:?}");
        }
        Blob { layout, capacity, data }
    }

    #[inline]
    pub fn from_bytes(s: &[u8]) -> TractResult<Blob> {
        Self::from_bytes_alignment(s, 128)
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        if self.data.is_null() {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(self.data, self.layout.size()) }
        }
    }

    #[inline]
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        if self.data.is_null() {
            &mut []
        } else {
            unsafe { std::slice::from_raw_parts_mut(self.data, self.layout.size()) }
        }
    }

    #[inline]
    pub fn from_bytes_alignment(s: &[u8], alignment: usize) -> TractResult<Blob> {
        unsafe {
            let layout = Layout::from_size_align(s.len(), alignment)?;
            let blob = Self::for_layout(layout);
            if s.len() > 0 {
                std::ptr::copy_nonoverlapping(s.as_ptr(), blob.data, s.len());
            }
            Ok(blob)
        }
    }

    #[inline]
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

impl std::ops::Deref for Blob {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::ops::DerefMut for Blob {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_bytes_mut()
    }
}

impl std::fmt::Display for Blob {
    fn fmt(&self, fmt: &mut std::fmt::Formatter) -> std::fmt::Result {
        assert!(self.data.is_null() == self.layout.size().is_zero());
        write!(
            fmt,
            "Blob of {} bytes (align @{}): {} {}",
            self.len(),
            self.layout.align(),
            String::from_utf8(
                self.iter()
                    .take(20)
                    .copied()
                    .flat_map(std::ascii::escape_default)
                    .collect::<Vec<u8>>()
            )
            .unwrap(),
            if self.len() >= 20 { "[...]" } else { "" }
        )
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, fmt: &mut std::fmt::Formatter) -> std::fmt::Result {
        <Self as Display>::fmt(self, fmt)
    }
}

impl TryFrom<&[u8]> for Blob {
    type Error = TractError;
    #[inline]
    fn try_from(s: &[u8]) -> Result<Blob, Self::Error> {
        Blob::from_bytes(s)
    }
}

unsafe impl Send for Blob {}
unsafe impl Sync for Blob {}
