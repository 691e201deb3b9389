//! Seeded synthetic inputs, for benchmarking a bare model and for checking
//! a converted one, as onnxruntime_perf_test, trtexec and benchmark_model
//! generate theirs.
//!
//! The distribution, per element type: `f32` and `f16` uniform in [0, 1);
//! `u8` uniform in 0..=255 and `i8` in -128..=127 (quantised images);
//! `i32` and `i64` zero, so that index inputs (token ids, gather indices)
//! stay in range. Values come from one splitmix64 stream started at the
//! seed and continued across the inputs in order, so a seed names one set
//! of tensors on every machine.

use std::collections::BTreeMap;

use crate::{DType, EngineError, Tensor, TensorInfo};

/// splitmix64 (Steele, Lea and Flood 2014): tiny, fast, and the same on
/// every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 24 bits.
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// One tensor per input, of `shapes[i]` (which must fit `inputs[i]`),
/// filled as the module says from `seed`.
pub fn synthetic(
    inputs: &[TensorInfo],
    shapes: &[Vec<usize>],
    seed: u64,
) -> Result<Vec<Tensor>, EngineError> {
    if inputs.len() != shapes.len() {
        return Err(EngineError::InputMismatch(format!(
            "{} shape(s) for {} input(s)",
            shapes.len(),
            inputs.len()
        )));
    }
    let mut rng = SplitMix64(seed);
    inputs
        .iter()
        .zip(shapes)
        .map(|(info, shape)| {
            if !info.accepts(info.dtype, shape) {
                return Err(EngineError::InputMismatch(format!(
                    "input '{}' is {}, not {shape:?}",
                    info.name,
                    info.shape_string()
                )));
            }
            let n = shape
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| {
                    EngineError::InputMismatch(format!(
                        "input '{}': {shape:?} overflows",
                        info.name
                    ))
                })?;
            let data: Vec<u8> = match info.dtype {
                DType::F32 => (0..n).flat_map(|_| rng.unit().to_le_bytes()).collect(),
                DType::F16 => (0..n)
                    .flat_map(|_| half::f16::from_f32(rng.unit()).to_le_bytes())
                    .collect(),
                DType::U8 | DType::I8 => (0..n).map(|_| (rng.next() >> 56) as u8).collect(),
                DType::I32 | DType::I64 => vec![0; n * info.dtype.size()],
            };
            Tensor::new(info.name.clone(), info.dtype, shape.clone(), data)
        })
        .collect()
}

/// Why given input shapes do not fit a model's inputs
/// ([`resolve_input_shapes`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// A shape names an input the model does not have.
    #[error("the model has no input '{name}'; its inputs: {inputs}")]
    NoSuchInput {
        /// The name given.
        name: String,
        /// The model's inputs ([`describe_inputs`]).
        inputs: String,
    },
    /// A shape does not fit its input's fixed dimensions.
    #[error("input '{name}' is {input}; [{}] does not fit it", dims(.given))]
    DoesNotFit {
        /// The input.
        name: String,
        /// Its type and shape, `f32 [1,3,?,?]`.
        input: String,
        /// The shape given.
        given: Vec<usize>,
    },
    /// An input with open dimensions was given no shape.
    #[error("input '{name}' is {input}: its open dimensions need sizes")]
    Open {
        /// The input.
        name: String,
        /// Its type and shape.
        input: String,
        /// How to give it ([`TensorInfo::shape_example`]).
        example: String,
    },
}

/// Dimensions as shapes are written everywhere else: `1,3,224,224`.
fn dims(given: &[usize]) -> String {
    given
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A model's inputs as errors list them: `input f32 [1,3,?,?], ...`.
pub fn describe_inputs(inputs: &[TensorInfo]) -> String {
    inputs
        .iter()
        .map(|i| format!("{} {} {}", i.name, i.dtype, i.shape_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The shape of each of a model's inputs, in its order: the one `given`
/// (input name → dimensions) names, else the model's own, which must then
/// be fixed.
pub fn resolve_input_shapes(
    inputs: &[TensorInfo],
    given: &BTreeMap<String, Vec<usize>>,
) -> Result<Vec<Vec<usize>>, ShapeError> {
    if let Some(unknown) = given.keys().find(|k| !inputs.iter().any(|i| &i.name == *k)) {
        return Err(ShapeError::NoSuchInput {
            name: unknown.clone(),
            inputs: describe_inputs(inputs),
        });
    }
    let input = |info: &TensorInfo| format!("{} {}", info.dtype, info.shape_string());
    inputs
        .iter()
        .map(|info| match given.get(&info.name) {
            Some(shape) if info.accepts(info.dtype, shape) => Ok(shape.clone()),
            Some(shape) => Err(ShapeError::DoesNotFit {
                name: info.name.clone(),
                input: input(info),
                given: shape.clone(),
            }),
            None => info
                .shape
                .iter()
                .copied()
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ShapeError::Open {
                    name: info.name.clone(),
                    input: input(info),
                    example: info.shape_example(),
                }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, dtype: DType, shape: &[Option<usize>]) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn one_seed_one_set_and_the_documented_ranges() {
        let inputs = [
            info("x", DType::F32, &[Some(1), None]),
            info("ids", DType::I64, &[Some(4)]),
            info("q", DType::U8, &[Some(64)]),
        ];
        let shapes = [vec![1, 1000], vec![4], vec![64]];
        let a = synthetic(&inputs, &shapes, 7).unwrap();
        assert_eq!(a, synthetic(&inputs, &shapes, 7).unwrap());
        assert_ne!(a, synthetic(&inputs, &shapes, 8).unwrap());
        let x = a[0].to_f32().unwrap();
        assert!(x.iter().all(|v| (0.0..1.0).contains(v)));
        let mean = x.iter().sum::<f32>() / x.len() as f32;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
        assert!(a[1].data().iter().all(|b| *b == 0));
        assert!(a[2].data().iter().any(|b| *b > 128));
        // The first value of seed 0, as `convert` has always used.
        let first = synthetic(&inputs[..1], &[vec![1, 1]], 0).unwrap()[0]
            .to_f32()
            .unwrap()[0];
        assert_eq!(first, {
            let mut r = SplitMix64(0);
            r.unit()
        });
    }

    #[test]
    fn a_shape_that_does_not_fit_is_refused() {
        let inputs = [info("x", DType::F32, &[Some(1), Some(3)])];
        let err = synthetic(&inputs, &[vec![1, 4]], 0).unwrap_err();
        assert!(err.to_string().contains("input 'x' is [1,3]"), "{err}");
    }

    #[test]
    fn shapes_resolve_by_name_and_say_what_does_not_fit() {
        let inputs = [
            info("x", DType::F32, &[Some(1), Some(3), None, None]),
            info("ids", DType::I64, &[Some(4)]),
        ];
        let given = |pairs: &[(&str, &[usize])]| {
            pairs
                .iter()
                .map(|(n, d)| (n.to_string(), d.to_vec()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            resolve_input_shapes(&inputs, &given(&[("x", &[1, 3, 8, 8])])).unwrap(),
            [vec![1, 3, 8, 8], vec![4]]
        );
        let e = resolve_input_shapes(&inputs, &given(&[])).unwrap_err();
        assert_eq!(
            e,
            ShapeError::Open {
                name: "x".into(),
                input: "f32 [1,3,?,?]".into(),
                example: "x=1,3,N,N".into(),
            }
        );
        let e = resolve_input_shapes(&inputs, &given(&[("x", &[1, 3, 8, 8]), ("ids", &[5])]));
        assert_eq!(
            e.unwrap_err().to_string(),
            "input 'ids' is i64 [4]; [5] does not fit it"
        );
        let e = resolve_input_shapes(&inputs, &given(&[("image", &[1])]));
        assert_eq!(
            e.unwrap_err().to_string(),
            "the model has no input 'image'; its inputs: x f32 [1,3,?,?], ids i64 [4]"
        );
    }
}
