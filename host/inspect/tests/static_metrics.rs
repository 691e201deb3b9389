//! Static metrics on a tiny model whose MACs and parameters are counted by
//! hand, built here as ONNX protobuf.

use lpdnn_inspect::inspect;
use prost::Message;
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_shape_proto::dimension, tensor_shape_proto::Dimension,
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

fn weights(name: &str, dims: &[i64]) -> TensorProto {
    let n: i64 = dims.iter().product();
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: (0..n).map(|i| (i % 7) as f32 * 0.01).collect(),
        ..Default::default()
    }
}

fn value(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: 1,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(dimension::Value::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(name: &str, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![format!("{name}_out")],
        attribute: attrs,
        ..Default::default()
    }
}

/// x[1,1,8,8] → Conv 1→4, 3×3, pad 1 → Relu → depthwise Conv 4→4, 3×3,
/// stride 2, pad 1, group 4 → Flatten → Gemm 64→10.
fn tiny_model() -> Vec<u8> {
    let graph = GraphProto {
        name: "tiny".into(),
        node: vec![
            node(
                "conv",
                "Conv",
                &["x", "w1", "b1"],
                vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])],
            ),
            node("relu", "Relu", &["conv_out"], vec![]),
            node(
                "dw",
                "Conv",
                &["relu_out", "w2", "b2"],
                vec![
                    ints("kernel_shape", &[3, 3]),
                    ints("pads", &[1, 1, 1, 1]),
                    ints("strides", &[2, 2]),
                    int("group", 4),
                ],
            ),
            node("flat", "Flatten", &["dw_out"], vec![int("axis", 1)]),
            node(
                "fc",
                "Gemm",
                &["flat_out", "w3", "b3"],
                vec![int("transB", 1)],
            ),
        ],
        initializer: vec![
            weights("w1", &[4, 1, 3, 3]),
            weights("b1", &[4]),
            weights("w2", &[4, 1, 3, 3]),
            weights("b2", &[4]),
            weights("w3", &[10, 64]),
            weights("b3", &[10]),
        ],
        input: vec![value("x", &[1, 1, 8, 8])],
        output: vec![value("fc_out", &[1, 10])],
        ..Default::default()
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn macs_flops_and_parameters_match_a_hand_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.onnx");
    let bytes = tiny_model();
    std::fs::write(&path, &bytes).unwrap();
    let m = inspect(&path).unwrap();

    // conv: 4 output channels × 8×8 outputs × (1 input channel × 3×3) = 2304
    // dw:   4 channels × 4×4 outputs × (1 channel per group × 3×3)   =  576
    // fc:   10 outputs × 64 inputs                                    =  640
    let per_layer: Vec<(&str, u64)> = m.layers.iter().map(|l| (l.name.as_str(), l.macs)).collect();
    assert_eq!(
        per_layer,
        [
            ("conv", 2304),
            ("relu", 0),
            ("dw", 576),
            ("flat", 0),
            ("fc", 640)
        ]
    );
    assert_eq!(m.macs, Some(3520));
    assert_eq!(m.flops, Some(7040));
    // One operation per element of the Relu's 4×8×8 output.
    assert_eq!(m.layers[1].other_ops, 256);
    assert_eq!(m.other_ops, Some(256));
    // 4·9 + 4 + 4·9 + 4 + 10·64 + 10
    assert_eq!(m.parameters, 730);
    assert_eq!(m.parameter_bytes, 730 * 4);
    let params: Vec<u64> = m.layers.iter().map(|l| l.parameters).collect();
    assert_eq!(params, [40, 0, 40, 0, 650]);
    assert_eq!(m.storage_bytes, bytes.len() as u64);
    assert_eq!(m.layers[2].output_shape, [1, 4, 4, 4]);
    assert!(m.table().contains("FLOPs       7040"), "{}", m.table());
}

#[test]
fn a_file_that_is_not_onnx_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.onnx");
    std::fs::write(&path, b"\x08\x07 not a model").unwrap();
    let err = inspect(&path).unwrap_err().to_string();
    assert!(err.contains("junk.onnx"), "{err}");
    let err = inspect(&dir.path().join("missing.onnx"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.onnx"), "{err}");
}
