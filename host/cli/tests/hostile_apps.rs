//! The hostile app corpus (`tests/hostile/apps/`): apps that once crashed,
//! hung or misled the host. Each must now end in a clear error naming what
//! is wrong: exit status 1, no panic, no raw control characters, a bounded
//! message.

mod common;

use common::{host, root, text};

/// Every file of the corpus, and what its error must say.
const CORPUS: &[(&str, &str)] = &[
    ("threads_65536.json", "must lie in 1..="),
    ("class_null.json", "field `class`"),
    ("device_integer.json", "field `engine.device`"),
    ("trailing_garbage.json", "trailing characters"),
    ("array.json", "an app is a JSON object"),
    ("nms_iou_1.json", "iou_threshold"),
    ("score_clip_negative.json", "score_clip"),
    ("tensor_16384.json", "width"),
    ("component_deceives.json", "\\u{1b}[2J"),
    ("component_shouts.json", "65536"),
];

#[test]
fn every_hostile_app_is_refused_clearly() {
    let dir = root().join("tests/hostile/apps");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every corpus file has its expected error here"
    );
    for (file, needle) in CORPUS {
        let app = format!("tests/hostile/apps/{file}");
        let o = host(&["run", &app, "--input", "assets/images/astronaut.png"]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{file}: {t}");
        assert!(t.contains(needle), "{file}: want {needle:?} in {t}");
        assert!(!t.contains("panicked"), "{file}: {t}");
        assert!(
            !t.contains('\x1b') && !t.contains('\u{202E}'),
            "{file}: raw control text"
        );
        assert!(t.len() < 8000, "{file}: {} bytes of error", t.len());
    }
}
