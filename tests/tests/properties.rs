//! Property tests (proptest, on stable): whatever bytes a stranger sends as
//! an app, a model or a parameter, the host answers with a value or an
//! error, never a panic. Seeds: the real files, mutated (flipped bytes,
//! truncation, garbage appended), and arbitrary bytes. A bounded number of
//! cases runs in CI; `PROPTEST_CASES=10000 cargo test --release --test
//! properties` runs longer.

mod common;

use std::path::PathBuf;

use common::{asset, example};
use proptest::prelude::*;

/// A real file with some bytes replaced, then cut or extended.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len();
    (
        proptest::collection::vec((0..len.max(1), any::<u8>()), 0..16),
        0..=len,
        proptest::collection::vec(any::<u8>(), 0..32),
    )
        .prop_map(move |(flips, cut, tail)| {
            let mut b = seed.clone();
            for (i, v) in flips {
                if i < b.len() {
                    b[i] = v;
                }
            }
            b.truncate(cut.max(1));
            b.extend(tail);
            b
        })
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn app_files_never_panic_the_loader(bytes in mutated(std::fs::read(example("face-detection")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let _ = lpdnn_app::App::load(&write(&dir, "app.json", &bytes));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_sniffers(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = lpdnn_engine_api::sniff(&bytes);
        let mut flat = b"\x1c\0\0\0TFL3".to_vec();
        flat.extend(&bytes);
        let _ = lpdnn_engine_api::sniff(&flat);
    }

    #[test]
    fn mutated_tflite_never_panics_the_check_or_inspect(bytes in mutated(std::fs::read(asset("models/face_detection_short_range.tflite")).unwrap())) {
        let _ = lpdnn_engine_api::sniff(&bytes);
        let dir = tempfile::tempdir().unwrap();
        let _ = lpdnn_inspect::inspect(&write(&dir, "m.tflite", &bytes));
    }

    #[test]
    fn mutated_ncnn_params_never_panic_inspect(bytes in mutated(std::fs::read(asset("models/face_detection_short_range.ncnn.param")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let _ = lpdnn_inspect::inspect(&write(&dir, "m.ncnn.param", &bytes));
    }
}

proptest! {
    // tract parses the whole graph per case: fewer cases.
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn mutated_onnx_never_panics_inspect(bytes in mutated(std::fs::read(asset("models/face_detection_short_range.onnx")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let _ = lpdnn_inspect::inspect(&write(&dir, "m.onnx", &bytes));
    }
}
