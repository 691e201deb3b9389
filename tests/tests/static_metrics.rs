//! Static metrics of the real models: parameters equal the sum of the ONNX
//! initializers as the `onnx` Python package counts them.

mod common;

use common::asset;

fn reference() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(asset("reference/static.json")).unwrap()).unwrap()
}

#[test]
fn parameters_and_storage_equal_the_onnx_package_counts() {
    let reference = reference();
    for model in ["efficientnet_lite0.onnx", "face_detection_short_range.onnx"] {
        let m = lpdnn_inspect::inspect(&asset(&format!("models/{model}"))).unwrap();
        let r = &reference[model];
        assert_eq!(m.parameters, r["parameters"].as_u64().unwrap(), "{model}");
        assert_eq!(
            m.storage_bytes,
            r["storage_bytes"].as_u64().unwrap(),
            "{model}"
        );
        assert_eq!(
            m.layers.len() as u64,
            r["nodes"].as_u64().unwrap(),
            "{model}"
        );
        let per_layer: u64 = m.layers.iter().map(|l| l.parameters).sum();
        assert_eq!(
            per_layer, m.parameters,
            "{model}: every initializer has a layer"
        );
        let per_layer: u64 = m.layers.iter().map(|l| l.macs).sum();
        assert_eq!(per_layer, m.macs, "{model}");
        assert_eq!(m.flops, 2 * m.macs);
    }
}

#[test]
fn macs_of_the_classifier_match_its_published_size() {
    // EfficientNet-Lite0 at 224×224: about 0.39 G multiply-adds, 4.6 M parameters.
    let m = lpdnn_inspect::inspect(&asset("models/efficientnet_lite0.onnx")).unwrap();
    assert!(
        (380_000_000..420_000_000).contains(&m.macs),
        "{} MACs",
        m.macs
    );
    let convs = m.layers.iter().filter(|l| l.op_type == "Conv").count();
    assert!(m
        .layers
        .iter()
        .filter(|l| l.op_type == "Conv")
        .all(|l| l.macs > 0));
    assert!(convs > 40, "{convs}");
}
