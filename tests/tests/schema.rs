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

fn platform_validator() -> jsonschema::Validator {
    let schema = read(&root().join("schemas/platform.schema.json"));
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn every_platform_descriptor_follows_the_schema_and_names_real_engines() {
    let v = platform_validator();
    let dir = root().join("platforms/descriptors");
    let engines: Vec<&str> = lpdnn_engines::REGISTRY.iter().map(|r| r.name).collect();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let doc = read(&path);
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        let d = lpdnn_platforms::Descriptor::load(&path).unwrap();
        assert_eq!(
            path.file_stem().unwrap().to_str(),
            Some(d.name.as_str()),
            "a descriptor's file is named after it"
        );
        for e in d.engines.iter().map(|e| &e.engine) {
            assert!(engines.contains(&e.as_str()), "{}: engine {e}", d.name);
        }
        n += 1;
    }
    assert_eq!(n, 15);
}

#[test]
fn platform_schema_and_loader_refuse_the_same_mistakes() {
    let v = platform_validator();
    let nano = read(&root().join("platforms/descriptors/jetson-nano.json"));
    type Edit = fn(&mut Value);
    let mistakes: [(&str, Edit); 8] = [
        ("board without its OS", |d| {
            d.as_object_mut().unwrap().remove("os");
        }),
        ("glibc that is not a version", |d| {
            d["os"]["glibc"] = json!("2.x")
        }),
        ("unknown field", |d| d["gpu"] = json!(true)),
        ("unknown arch", |d| d["arch"] = json!("mips")),
        ("unknown device", |d| {
            d["engines"][0]["devices"] = json!(["fpga"])
        }),
        ("rail without unit", |d| {
            d["sensors"]["power"][0]
                .as_object_mut()
                .unwrap()
                .remove("unit");
        }),
        ("microcontroller with engines", |d| {
            d["kind"] = json!("microcontroller");
            d["cannot_host"] = json!("no MMU");
        }),
        ("board saying it cannot host", |d| {
            d["cannot_host"] = json!("x")
        }),
    ];
    for (what, edit) in mistakes {
        let mut d = nano.clone();
        edit(&mut d);
        assert!(!v.is_valid(&d), "the schema takes: {what}");
        assert!(
            lpdnn_platforms::Descriptor::parse(&d.to_string()).is_err(),
            "the loader takes: {what}"
        );
    }
}
