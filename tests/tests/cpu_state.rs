//! An engine call must leave the calling thread's CPU state as it found it:
//! the wasm stages run next on the same thread, and legacy-SSE code after
//! AVX code that left the upper YMM halves dirty pays a transition penalty
//! on every instruction (the face app's pre-processor ran 15× slower after
//! LNE than after ONNX Runtime). Checked on the processor's own record of
//! the state (XINUSE, `XGETBV` with ECX = 1), not with a timing.

mod common;

use common::asset;
use lpdnn_engine_api::{DType, LoadOptions, Tensor};

/// Whether the upper halves of the YMM registers are marked in use, or
/// `None` where the processor cannot tell (no AVX or no XGETBV ECX = 1).
#[cfg(target_arch = "x86_64")]
fn ymm_upper_in_use() -> Option<bool> {
    use std::arch::x86_64::{__cpuid_count, _xgetbv};
    if !std::arch::is_x86_feature_detected!("avx") || !std::arch::is_x86_feature_detected!("xsave")
    {
        return None;
    }
    // CPUID.(EAX=0DH, ECX=1):EAX bit 2: XGETBV with ECX = 1 is supported.
    // CPUID leaf 0xD exists where XSAVE does (checked above).
    if __cpuid_count(0xd, 1).eax & 4 == 0 {
        return None;
    }
    // SAFETY: XSAVE and XGETBV with ECX = 1 are supported (checked above).
    let xinuse = unsafe { _xgetbv(1) };
    Some(xinuse & 4 != 0)
}

#[cfg(target_arch = "x86_64")]
#[test]
fn engines_leave_no_dirty_avx_state_for_the_wasm_stages() {
    let Some(before) = ymm_upper_in_use() else {
        eprintln!("skipped: this processor does not report XINUSE");
        return;
    };
    assert!(!before, "the test thread starts with dirty YMM state");
    let model = asset("models/face_detection_short_range.onnx");
    let x: Vec<u8> = (0..3 * 128 * 128)
        .flat_map(|i| (((i % 255) as f32 / 127.5) - 1.0).to_le_bytes())
        .collect();
    let input = Tensor::new("input", DType::F32, vec![1, 3, 128, 128], x).unwrap();
    for engine in ["lne", "onnxruntime"] {
        let mut m = lpdnn_engines::engine(engine)
            .unwrap()
            .load(&model, &LoadOptions::default())
            .unwrap();
        for _ in 0..3 {
            m.run(vec![input.clone()]).unwrap();
            assert_eq!(
                ymm_upper_in_use(),
                Some(false),
                "{engine} returned with the upper YMM halves in use"
            );
        }
    }
}
