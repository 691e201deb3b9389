//! Heap an inference allocates, counted as the benchmark's `heap_allocated`
//! counts it (the counting global allocator): LNE reuses its tensors'
//! buffers from run to run (tract-data's `BlobPool`, engines/lne/patched), so
//! only its first run allocates them, and the reuse changes no output bit.
//! The pool's own behaviour is tested here too (the patched crate is not a
//! workspace member, so its unit tests would not run).

mod common;

use common::asset;
use lpdnn_anchors::{allocated_bytes, CountingAllocator};
use lpdnn_engine_api::{DType, LoadOptions, Tensor};
use tract_onnx::prelude::{with_blob_pool, Blob, BlobPool};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Runs `engine` on the face model four times; the bytes each run
/// allocated and its outputs.
fn runs(engine: &str) -> Vec<(u64, Vec<Tensor>)> {
    let model = asset("models/face_detection_short_range.onnx");
    let x: Vec<u8> = (0..3 * 128 * 128)
        .flat_map(|i| (((i % 255) as f32 / 127.5) - 1.0).to_le_bytes())
        .collect();
    let input = Tensor::new("input", DType::F32, vec![1, 3, 128, 128], x).unwrap();
    let mut m = lpdnn_engines::engine(engine)
        .unwrap()
        .load(
            &model,
            &LoadOptions {
                threads: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    (0..4)
        .map(|_| {
            let input = vec![input.clone()];
            let before = allocated_bytes();
            let out = m.run(input).unwrap();
            (allocated_bytes() - before, out)
        })
        .collect()
}

#[test]
fn lne_allocates_its_tensors_once_and_reuses_them() {
    let lne = runs("lne");
    let kib: Vec<u64> = lne.iter().map(|(b, _)| b / 1024).collect();
    // tract's tensors are ~10 MiB a run, of which the first run allocates
    // ~4 MiB (later nodes reuse what earlier ones freed); the outputs copied
    // out are ~60 KiB.
    assert!(
        kib[0] > 2 * 1024,
        "the first run allocates the buffers: {kib:?} KiB"
    );
    assert!(
        kib[1..].iter().all(|&k| k < 1024),
        "later runs reuse them: {kib:?} KiB"
    );
    for (i, (_, out)) in lne.iter().enumerate().skip(1) {
        assert_eq!(out, &lne[0].1, "run {i}'s outputs differ from run 0's");
    }
    // The same model on ONNX Runtime agrees (its arena does the same).
    let ort = runs("onnxruntime");
    for (a, b) in lne[3].1.iter().zip(&ort[3].1) {
        let (a, b) = (a.to_f32().unwrap(), b.to_f32().unwrap());
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-3, "LNE and ONNX Runtime differ by {worst}");
    }
}

/// A blob of `size` bytes aligned to `align`, and where its buffer is.
fn blob(size: usize, align: usize) -> (Blob, usize) {
    // SAFETY: a valid size and power-of-two alignment; the bytes are not read.
    let b = unsafe { Blob::new_for_size_and_align(size, align) };
    let at = b.as_bytes().as_ptr() as usize;
    (b, at)
}

#[test]
fn the_pool_reuses_a_freed_buffer_of_the_same_layout_while_active() {
    let mut pool = BlobPool::default();
    let first = with_blob_pool(&mut pool, || blob(8192, 128).1);
    assert_eq!(pool.bytes(), 8192, "kept when freed");
    with_blob_pool(&mut pool, || {
        let other = blob(3 * 4096, 128);
        let same = blob(8192, 128);
        assert_eq!(same.1, first, "same layout, same buffer");
        assert_ne!(other.1, first);
    });
    assert_eq!(pool.bytes(), 8192 + 3 * 4096);
    // With no pool active, blobs go back to the allocator as before.
    drop(blob(8192, 128));
    assert_eq!(pool.bytes(), 8192 + 3 * 4096);
}

#[test]
fn a_blob_takes_the_most_recently_freed_buffer_that_fits_it() {
    let mut pool = BlobPool::default();
    let (big, small) = with_blob_pool(&mut pool, || {
        let (a, big) = blob(12_288, 128);
        let (b, small) = blob(8192, 128);
        drop(a);
        drop(b);
        (big, small)
    });
    with_blob_pool(&mut pool, || {
        let both_fit = blob(7000, 128);
        assert_eq!(both_fit.1, small, "the most recently freed of the two");
        assert_eq!(both_fit.0.len(), 7000, "a blob is as long as asked");
        let under_half = blob(6000, 128);
        assert_ne!(under_half.1, big, "12 KiB is more than twice 6000 bytes");
        let half = blob(6144, 128);
        assert_eq!(half.1, big);
        let other_alignment = blob(8000, 256);
        assert!(![big, small].contains(&other_alignment.1));
    });
    // Each buffer comes back with its whole capacity.
    assert_eq!(pool.bytes(), 12_288 + 8192 + 6000 + 8000);
}

#[test]
fn the_pool_leaves_small_blobs_and_stops_at_its_limit() {
    let mut pool = BlobPool::new(10_000);
    with_blob_pool(&mut pool, || {
        drop(blob(64, 16));
        drop(blob(8192, 16));
        drop(blob(8192, 32));
    });
    assert_eq!(
        pool.bytes(),
        8192,
        "64 bytes is too small; a second 8192 over the limit"
    );
}

#[test]
fn pools_nest_and_come_back_after_a_panic() {
    let mut outer = BlobPool::default();
    let mut inner = BlobPool::default();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_blob_pool(&mut outer, || {
            with_blob_pool(&mut inner, || drop(blob(8192, 64)));
            drop(blob(4096, 64));
            panic!("inside the outer pool");
        })
    }));
    assert!(result.is_err());
    assert_eq!((outer.bytes(), inner.bytes()), (4096, 8192));
    drop(blob(4096, 64));
    assert_eq!(outer.bytes(), 4096, "no pool is left active");
}
