//! The app file's JSON Schema and the loader agree.

mod common;

use common::{edited_app, example, root};
use lpdnn_app::App;
use serde_json::{json, Value};

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/app.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn read(p: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn the_examples_follow_the_schema() {
    let v = validator();
    for name in ["face-detection", "image-classification"] {
        let app = read(&example(name));
        let errors: Vec<String> = v.iter_errors(&app).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert!(App::load(&example(name)).is_ok());
    }
}

#[test]
fn schema_and_loader_refuse_the_same_mistakes() {
    let v = validator();
    type Edit = fn(&mut Value);
    let mistakes: [(&str, Edit); 5] = [
        ("unknown field", |a| a["engine"]["thread"] = json!(2)),
        ("unknown class", |a| a["class"] = json!("mind_reading")),
        ("zero threads", |a| a["engine"]["threads"] = json!(0)),
        ("no model", |a| a["model"] = json!({})),
        ("unknown format", |a| {
            a["model"]["caffe"] = json!("x.caffemodel")
        }),
    ];
    for (what, edit) in mistakes {
        let dir = tempfile::tempdir().unwrap();
        let path = edited_app("face-detection", dir.path(), edit);
        assert!(!v.is_valid(&read(&path)), "schema accepts: {what}");
        assert!(App::load(&path).is_err(), "loader accepts: {what}");
    }
}
