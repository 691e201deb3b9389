//! A structural check of TFLite flatbuffers before LiteRT sees them. LiteRT
//! trusts its input: a truncated `.tflite` crashes it. The `flatbuffers`
//! crate's verifier walks every table, vector and string of the parts of
//! the schema (tensorflow/compiler/mlir/lite/schema/schema.fbs) that the
//! runtime reads, then the indices between them are checked.

use flatbuffers::{
    ForwardsUOffset, InvalidFlatbuffer, Table, Vector, Verifiable, Verifier, VerifierOptions,
};

/// The vtable offset of field `i` of a table.
const fn field(i: u16) -> u16 {
    4 + 2 * i
}

/// A table whose fields are not read before the runtime: only its header
/// and vtable are checked (options, quantization, sparsity).
struct AnyTable;
impl Verifiable for AnyTable {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?.finish();
        Ok(())
    }
}

macro_rules! table {
    ($name:ident { $($i:literal: $label:literal => $ty:ty),* $(,)? }) => {
        struct $name;
        impl Verifiable for $name {
            fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
                v.visit_table(pos)?
                    $(.visit_field::<$ty>($label, field($i), false)?)*
                    .finish();
                Ok(())
            }
        }
    };
}

type Ints<'a> = ForwardsUOffset<Vector<'a, i32>>;
type Bytes<'a> = ForwardsUOffset<Vector<'a, u8>>;
type Str<'a> = ForwardsUOffset<&'a str>;
type Tables<'a, T> = ForwardsUOffset<Vector<'a, ForwardsUOffset<T>>>;

table!(OperatorCode { 0: "deprecated_builtin_code" => i8, 1: "custom_code" => Str<'_>,
    2: "version" => i32, 3: "builtin_code" => i32 });
table!(Tensor { 0: "shape" => Ints<'_>, 1: "type" => i8, 2: "buffer" => u32,
    3: "name" => Str<'_>, 4: "quantization" => ForwardsUOffset<AnyTable>,
    5: "is_variable" => bool, 6: "sparsity" => ForwardsUOffset<AnyTable>,
    7: "shape_signature" => Ints<'_> });
table!(Operator { 0: "opcode_index" => u32, 1: "inputs" => Ints<'_>, 2: "outputs" => Ints<'_>,
    3: "builtin_options_type" => u8, 4: "builtin_options" => ForwardsUOffset<AnyTable>,
    5: "custom_options" => Bytes<'_>, 7: "mutating_variable_inputs" => ForwardsUOffset<Vector<'_, bool>>,
    8: "intermediates" => Ints<'_>, 9: "large_custom_options_offset" => u64,
    10: "large_custom_options_size" => u64, 11: "builtin_options_2_type" => u8,
    12: "builtin_options_2" => ForwardsUOffset<AnyTable> });
table!(SubGraph { 0: "tensors" => Tables<'_, Tensor>, 1: "inputs" => Ints<'_>,
    2: "outputs" => Ints<'_>, 3: "operators" => Tables<'_, Operator>, 4: "name" => Str<'_> });
table!(Buffer { 0: "data" => Bytes<'_>, 1: "offset" => u64, 2: "size" => u64 });
table!(Metadata { 0: "name" => Str<'_>, 1: "buffer" => u32 });
table!(TensorMap { 0: "name" => Str<'_>, 1: "tensor_index" => u32 });
table!(SignatureDef { 0: "inputs" => Tables<'_, TensorMap>, 1: "outputs" => Tables<'_, TensorMap>,
    2: "signature_key" => Str<'_>, 4: "subgraph_index" => u32 });
table!(Model { 0: "version" => u32, 1: "operator_codes" => Tables<'_, OperatorCode>,
    2: "subgraphs" => Tables<'_, SubGraph>, 3: "description" => Str<'_>,
    4: "buffers" => Tables<'_, Buffer>, 5: "metadata_buffer" => Ints<'_>,
    6: "metadata" => Tables<'_, Metadata>, 7: "signature_defs" => Tables<'_, SignatureDef> });

/// Checks a TFLite file's structure; the error says what is wrong.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 {
        return Err("too short for a flatbuffer".into());
    }
    let opts = VerifierOptions {
        max_apparent_size: usize::MAX,
        max_tables: 10_000_000,
        ..Default::default()
    };
    let mut v = Verifier::new(&opts, bytes);
    <ForwardsUOffset<Model>>::run_verifier(&mut v, 0).map_err(|e| format!("{e}"))?;
    // SAFETY: every table, vector and string read below was verified above.
    unsafe { check_indices(bytes) }
}

/// Indices between verified parts: tensors → buffers, operators → operator
/// codes and tensors, external buffers → file bounds.
///
/// # Safety
/// `bytes` passed the verifier of [`check`].
unsafe fn check_indices(bytes: &[u8]) -> Result<(), String> {
    type TableVec<'a> = Vector<'a, ForwardsUOffset<Table<'a>>>;
    // SAFETY: forwarded from the caller.
    unsafe {
        let root_pos = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
        let model = Table::new(bytes, root_pos);
        fn vec<'a>(t: &Table<'a>, i: u16) -> Option<TableVec<'a>> {
            // SAFETY: the table was verified, this field as a table vector.
            unsafe { t.get::<ForwardsUOffset<TableVec<'a>>>(field(i), None) }
        }
        fn ints<'a>(t: &Table<'a>, i: u16) -> Option<Vector<'a, i32>> {
            // SAFETY: the table was verified, this field as an int vector.
            unsafe { t.get::<ForwardsUOffset<Vector<'a, i32>>>(field(i), None) }
        }
        let buffers = vec(&model, 4).map_or(0, |b| b.len());
        if let Some(list) = vec(&model, 4) {
            for (i, b) in list.iter().enumerate() {
                let offset = b.get::<u64>(field(1), Some(0)).unwrap_or(0);
                let size = b.get::<u64>(field(2), Some(0)).unwrap_or(0);
                if offset > 1
                    && offset
                        .checked_add(size)
                        .is_none_or(|end| end > bytes.len() as u64)
                {
                    return Err(format!(
                        "buffer {i} lies at bytes {offset}..+{size}, past the end of the file ({} bytes)",
                        bytes.len()
                    ));
                }
            }
        }
        let codes = vec(&model, 1).map_or(0, |c| c.len());
        for (s, sub) in vec(&model, 2).into_iter().flatten().enumerate() {
            let tensors = vec(&sub, 0).map_or(0, |t| t.len());
            for (t, tensor) in vec(&sub, 0).into_iter().flatten().enumerate() {
                let b = tensor.get::<u32>(field(2), Some(0)).unwrap_or(0) as usize;
                if b >= buffers.max(1) {
                    return Err(format!(
                        "subgraph {s} tensor {t} names buffer {b} of {buffers}"
                    ));
                }
            }
            let in_range = |i: i32| i == -1 || (i >= 0 && (i as usize) < tensors);
            for list in [ints(&sub, 1), ints(&sub, 2)].into_iter().flatten() {
                if let Some(bad) = list.iter().find(|&i| !in_range(i)) {
                    return Err(format!("subgraph {s} names tensor {bad} of {tensors}"));
                }
            }
            for (o, op) in vec(&sub, 3).into_iter().flatten().enumerate() {
                let code = op.get::<u32>(field(0), Some(0)).unwrap_or(0) as usize;
                if code >= codes {
                    return Err(format!(
                        "subgraph {s} operator {o} names operator code {code} of {codes}"
                    ));
                }
                for list in [ints(&op, 1), ints(&op, 2)].into_iter().flatten() {
                    if let Some(bad) = list.iter().find(|&i| !in_range(i)) {
                        return Err(format!(
                            "subgraph {s} operator {o} names tensor {bad} of {tensors}"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}
