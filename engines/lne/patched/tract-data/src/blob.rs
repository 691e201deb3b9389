use num_traits::Zero;

use crate::{TractError, TractResult};
use std::alloc::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::ptr::null_mut;

/// Buffers smaller than this are left to the allocator.
const POOLED_MIN_BYTES: usize = 4096;

thread_local! {
    static POOL: RefCell<Option<BlobPool>> = const { RefCell::new(None) };
}

/// Freed blob buffers kept for reuse, by layout.
///
/// While a pool is active on a thread ([`with_blob_pool`]), a blob of at
/// least 4 KiB freed on that thread keeps its buffer here, and a blob
/// allocated there with the same size and alignment takes it back instead of
/// calling the allocator. A plan run with fixed shapes frees and allocates the
/// same layouts run after run, so from the second run on its tensors cost no
/// allocation, as with ONNX Runtime's arena. The pool holds at most `limit`
/// bytes (freeing beyond that), and frees everything when dropped.
pub struct BlobPool {
    free: HashMap<Layout, Vec<*mut u8>>,
    bytes: usize,
    limit: usize,
}

// SAFETY: the pool owns the buffers it holds; nothing else points to them.
unsafe impl Send for BlobPool {}

impl BlobPool {
    /// An empty pool that keeps at most `limit` bytes.
    pub fn new(limit: usize) -> BlobPool {
        BlobPool { free: HashMap::new(), bytes: 0, limit }
    }

    /// Bytes held for reuse.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn take(&mut self, layout: Layout) -> Option<*mut u8> {
        let data = self.free.get_mut(&layout)?.pop()?;
        self.bytes -= layout.size();
        Some(data)
    }

    /// Keeps `data` or, over the limit, hands it back.
    fn keep(&mut self, layout: Layout, data: *mut u8) -> Option<*mut u8> {
        if self.bytes + layout.size() > self.limit {
            return Some(data);
        }
        self.bytes += layout.size();
        self.free.entry(layout).or_default().push(data);
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
        for (layout, buffers) in self.free.drain() {
            for data in buffers {
                // SAFETY: `data` came from `alloc(layout)` and is owned by the pool.
                unsafe { dealloc(data, layout) }
            }
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

fn pooled_alloc(layout: Layout) -> Option<*mut u8> {
    if layout.size() < POOLED_MIN_BYTES {
        return None;
    }
    POOL.try_with(|p| p.try_borrow_mut().ok()?.as_mut()?.take(layout)).ok().flatten()
}

/// Gives `data` to the active pool; hands it back when there is none or it is full.
fn pooled_dealloc(layout: Layout, data: *mut u8) -> Option<*mut u8> {
    if layout.size() < POOLED_MIN_BYTES {
        return Some(data);
    }
    POOL.try_with(|p| match p.try_borrow_mut() {
        Ok(mut p) => match p.as_mut() {
            Some(pool) => pool.keep(layout, data),
            None => Some(data),
        },
        Err(_) => Some(data),
    })
    .unwrap_or(Some(data))
}

#[derive(Eq)]
pub struct Blob {
    layout: std::alloc::Layout,
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
            if let Some(data) = pooled_dealloc(self.layout, self.data) {
                unsafe { dealloc(data, self.layout) }
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
                unsafe { std::alloc::dealloc(self.data as _, self.layout) };
            }
            self.layout = unsafe { Layout::from_size_align_unchecked(size, align) };
            self.data = unsafe { std::alloc::alloc(self.layout) };
            assert!(!self.data.is_null());
        }
    }

    #[inline]
    pub unsafe fn for_layout(layout: Layout) -> Blob {
        let mut data = null_mut();
        if layout.size() > 0 {
            data = match pooled_alloc(layout) {
                Some(data) => data,
                None => unsafe { alloc(layout) },
            };
            assert!(!data.is_null(), "failed to allocate {layout:?}");
        }
        Blob { layout, data }
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
