//! Engine-neutral tensors.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::EngineError;

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// Unsigned byte.
    U8,
    /// Signed byte.
    I8,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer.
    I64,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::U8 | DType::I8 => 1,
            DType::F16 => 2,
            DType::F32 | DType::I32 => 4,
            DType::I64 => 8,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::U8 => "u8",
            DType::I8 => "i8",
            DType::I32 => "i32",
            DType::I64 => "i64",
        };
        f.write_str(s)
    }
}

/// Name, element type and shape of a model input or output. A dimension of
/// `None` is symbolic (any size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name in the model graph.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Dimensions; `None` where the model leaves one open.
    pub shape: Vec<Option<usize>>,
}

impl TensorInfo {
    /// Whether a tensor of `dtype` and `shape` can be fed here.
    pub fn accepts(&self, dtype: DType, shape: &[usize]) -> bool {
        self.dtype == dtype
            && self.shape.len() == shape.len()
            && self
                .shape
                .iter()
                .zip(shape)
                .all(|(want, got)| want.is_none_or(|w| w == *got))
    }

    /// How `--input-shape` gives this input: `name=1,3,N,N`, `N` for each
    /// open dimension.
    pub fn shape_example(&self) -> String {
        format!("{}={}", self.name, self.dims_with("N"))
    }

    /// The shape as text, `?` for open dimensions.
    pub fn shape_string(&self) -> String {
        format!("[{}]", self.dims_with("?"))
    }

    /// The dimensions separated by commas, `open` for each open one.
    fn dims_with(&self, open: &str) -> String {
        let dims: Vec<String> = self
            .shape
            .iter()
            .map(|d| d.map_or(open.to_owned(), |d| d.to_string()))
            .collect();
        dims.join(",")
    }
}

/// A dense row-major tensor holding packed little-endian bytes.
///
/// Its data always holds exactly `shape.product() * dtype.size()` bytes:
/// the fields are private, every constructor checks it, and engines copy
/// that many bytes into buffers sized from the shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl Tensor {
    /// Builds a tensor, checking that `data` has exactly the bytes `shape` needs.
    pub fn new(
        name: impl Into<String>,
        dtype: DType,
        shape: Vec<usize>,
        data: Vec<u8>,
    ) -> Result<Self, EngineError> {
        let name = name.into();
        let expected = shape
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| {
                EngineError::InputMismatch(format!("tensor '{name}': shape {shape:?} overflows"))
            })?;
        if expected != data.len() {
            return Err(EngineError::InputMismatch(format!(
                "tensor '{name}': shape {shape:?} of {dtype} needs {expected} bytes, got {}",
                data.len()
            )));
        }
        Ok(Tensor {
            name,
            dtype,
            shape,
            data,
        })
    }

    /// Builds an f32 tensor from values.
    pub fn from_f32(
        name: impl Into<String>,
        shape: Vec<usize>,
        values: &[f32],
    ) -> Result<Self, EngineError> {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::new(name, DType::F32, shape, data)
    }

    /// Name of the model input/output; empty when bound by position.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames it (e.g. an output fed back as a state input).
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The packed little-endian elements: `len() * dtype().size()` bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Name, type, shape and data, for an engine that takes ownership.
    pub fn into_parts(self) -> (String, DType, Vec<usize>, Vec<u8>) {
        (self.name, self.dtype, self.shape, self.data)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as f32, if the tensor is f32.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        (self.dtype == DType::F32).then(|| {
            self.data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_refuses_a_wrong_byte_count() {
        let err = Tensor::new("x", DType::F32, vec![1, 3], vec![0; 11]).unwrap_err();
        assert!(err.to_string().contains("needs 12 bytes, got 11"), "{err}");
        assert!(Tensor::new("x", DType::F32, vec![1, 3], vec![0; 12]).is_ok());
    }

    #[test]
    fn new_refuses_an_overflowing_shape() {
        let err = Tensor::new("x", DType::I64, vec![usize::MAX, 2], vec![]).unwrap_err();
        assert!(err.to_string().contains("overflows"), "{err}");
    }

    #[test]
    fn f32_round_trip() {
        let t = Tensor::from_f32("y", vec![2], &[1.5, -2.0]).unwrap();
        assert_eq!(t.to_f32().unwrap(), vec![1.5, -2.0]);
    }

    #[test]
    fn info_accepts_open_dimensions() {
        let info = TensorInfo {
            name: "x".into(),
            dtype: DType::F32,
            shape: vec![None, Some(3)],
        };
        assert!(info.accepts(DType::F32, &[7, 3]));
        assert!(!info.accepts(DType::F32, &[7, 4]));
        assert!(!info.accepts(DType::U8, &[7, 3]));
        assert_eq!(info.shape_string(), "[?,3]");
    }
}
