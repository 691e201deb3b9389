//! Cutting a stream into fixed windows with overlap.

use crate::Error;

/// How to cut a stream: windows of `length` samples every `hop` samples,
/// after `pad_start` zeros; `pad_end` zero-pads a last partial window
/// (else it is dropped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chunking {
    /// Samples per window.
    pub length: usize,
    /// Samples between window starts (`length` for no overlap).
    pub hop: usize,
    /// Zeros before the first sample (e.g. a model's left context).
    pub pad_start: usize,
    /// Zero-pad the last partial window instead of dropping it.
    pub pad_end: bool,
}

/// Most samples in one chunk, or zeros before the first (2^22: 4.4 minutes
/// at 16 kHz, 32 MiB as f64).
pub const MAX_CHUNK: usize = 1 << 22;

/// Most values all the chunks of one input may hold together (2^24, 128 MiB
/// as f64): overlap multiplies the input, and a hop of 1 would multiply it
/// by the chunk length.
pub const MAX_CHUNKED: usize = 1 << 24;

impl Chunking {
    /// Checks the settings.
    pub fn new(length: usize, hop: usize, pad_start: usize, pad_end: bool) -> Result<Self, Error> {
        if length == 0 || hop == 0 {
            return crate::params("chunk_length and chunk_hop must be at least 1");
        }
        if length > MAX_CHUNK || pad_start > MAX_CHUNK {
            return crate::params(format!(
                "chunk_length ({length}) and pad_start ({pad_start}) must be at most {MAX_CHUNK}"
            ));
        }
        Ok(Chunking {
            length,
            hop,
            pad_start,
            pad_end,
        })
    }

    /// The windows of `x` (of `x.len()` samples, one channel).
    pub fn split(&self, x: &[f64]) -> Result<Vec<Vec<f64>>, Error> {
        let total = x.len() + self.pad_start;
        let count = if total < self.length {
            if self.pad_end && !x.is_empty() {
                1
            } else {
                return Err(Error::Input(format!(
                    "the input holds {} samples, less than one chunk of {}",
                    x.len(),
                    self.length
                )));
            }
        } else if self.pad_end {
            (total - self.length).div_ceil(self.hop) + 1
        } else {
            (total - self.length) / self.hop + 1
        };
        if count.saturating_mul(self.length) > MAX_CHUNKED {
            return Err(Error::Input(format!(
                "{} samples cut into chunks of {} every {} make {count} chunks, over the limit \
                 of {MAX_CHUNKED} values in all; raise chunk_hop",
                x.len(),
                self.length,
                self.hop
            )));
        }
        Ok((0..count)
            .map(|i| {
                (0..self.length)
                    .map(|k| {
                        (i * self.hop + k)
                            .checked_sub(self.pad_start)
                            .and_then(|j| x.get(j))
                            .copied()
                            .unwrap_or(0.0)
                    })
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silero_style_context_windows() {
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let c = Chunking::new(6, 4, 2, true).unwrap();
        let w = c.split(&x).unwrap();
        assert_eq!(w.len(), 3); // ceil(10 / 4)
        assert_eq!(w[0], vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(w[1], vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!(w[2], vec![7.0, 8.0, 9.0, 10.0, 0.0, 0.0]);
        let drop = Chunking::new(4, 4, 0, false).unwrap().split(&x).unwrap();
        assert_eq!(drop.len(), 2);
        assert!(Chunking::new(20, 4, 0, false).unwrap().split(&x).is_err());
    }

    #[test]
    fn huge_chunks_and_tiny_hops_are_refused() {
        assert!(matches!(
            Chunking::new(MAX_CHUNK + 1, 1, 0, true),
            Err(Error::Params(_))
        ));
        assert!(matches!(
            Chunking::new(4, 4, usize::MAX, true),
            Err(Error::Params(_))
        ));
        let c = Chunking::new(1024, 1, 0, true).unwrap();
        assert!(matches!(c.split(&vec![0.0; 1 << 16]), Err(Error::Input(_))));
    }
}
