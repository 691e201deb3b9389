//! WAV decoding (via `hound`) into f32 samples scaled as soundfile and
//! librosa scale them: integer PCM divided by 2^(bits-1).

use std::io::Cursor;

use crate::Error;

/// A decoded recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples per second.
    pub sample_rate: u32,
    /// Number of channels in the file.
    pub channels: u32,
    /// Mono samples (the mean of the channels, as `librosa.to_mono`).
    pub samples: Vec<f64>,
}

/// Decodes WAV bytes: PCM 8/16/24/32-bit or 32-bit float, any number of
/// channels (mixed down to mono). Refuses anything else, truncated data and
/// recordings without a sample, with a message that says which.
pub fn decode(bytes: &[u8], max_samples: usize) -> Result<Audio, Error> {
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| describe(&e))?;
    let spec = reader.spec();
    if spec.channels == 0 {
        return Err(Error::Input("WAV header declares 0 channels".into()));
    }
    if spec.sample_rate == 0 {
        return Err(Error::Input(
            "WAV header declares a sample rate of 0 Hz".into(),
        ));
    }
    let declared = reader.len() as usize;
    if declared == 0 {
        return Err(Error::Input(
            "zero-length audio: the WAV data chunk holds no sample".into(),
        ));
    }
    if declared > max_samples {
        return Err(Error::Input(format!(
            "the WAV file holds {declared} samples, over the limit of {max_samples}"
        )));
    }
    let channels = spec.channels as usize;
    let interleaved: Vec<f64> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => match packed(bytes, declared, 4)? {
            Some(data) => data
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
            None => collect(reader.into_samples::<f32>(), |v| v as f64)?,
        },
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / f64::from(1u32 << (bits - 1));
            match packed(bytes, declared, usize::from(bits / 8))? {
                // The layouts hound reads for these depths (8-bit is unsigned),
                // straight from the bytes: hound reads one sample per call.
                Some(data) => match bits {
                    8 => data
                        .iter()
                        .map(|&b| f64::from(i32::from(b) - 128) * scale)
                        .collect(),
                    16 => data
                        .chunks_exact(2)
                        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])) * scale)
                        .collect(),
                    24 => data
                        .chunks_exact(3)
                        .map(|b| f64::from(i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) * scale)
                        .collect(),
                    _ => data
                        .chunks_exact(4)
                        .map(|b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) * scale)
                        .collect(),
                },
                None => collect(reader.into_samples::<i32>(), |v| v as f64 * scale)?,
            }
        }
        (format, bits) => {
            return Err(Error::Input(format!(
                "unsupported WAV encoding: {bits}-bit {}; use PCM 8/16/24/32-bit or 32-bit float",
                match format {
                    hound::SampleFormat::Float => "float",
                    hound::SampleFormat::Int => "integer PCM",
                }
            )))
        }
    };
    if interleaved.len() < declared {
        return Err(Error::Input(format!(
            "truncated WAV: the header declares {declared} samples, the file holds {}",
            interleaved.len()
        )));
    }
    let samples = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f64>() / channels as f64)
        .collect();
    Ok(Audio {
        sample_rate: spec.sample_rate,
        channels: spec.channels.into(),
        samples,
    })
}

/// The bytes of the first `declared` samples (fewer when the file ends
/// early) when each sample takes exactly `width` bytes; `None` when it takes
/// more (e.g. 24 bits in 4 bytes), which hound reads instead.
fn packed(bytes: &[u8], declared: usize, width: usize) -> Result<Option<&[u8]>, Error> {
    // Where the data starts, and how far one sample read by hound moves.
    let at = |samples: usize| -> Result<usize, Error> {
        let mut reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| describe(&e))?;
        if samples > 0 {
            let first = match reader.spec().sample_format {
                hound::SampleFormat::Float => reader.samples::<f32>().next().map(|s| s.map(drop)),
                hound::SampleFormat::Int => reader.samples::<i32>().next().map(|s| s.map(drop)),
            };
            if !matches!(first, Some(Ok(()))) {
                return Ok(usize::MAX);
            }
        }
        Ok(reader.into_inner().position() as usize)
    };
    let start = at(0)?;
    if at(1)?.checked_sub(start) != Some(width) {
        return Ok(None);
    }
    let whole = (bytes.len().saturating_sub(start) / width).min(declared);
    Ok(Some(&bytes[start..start + whole * width]))
}

fn collect<T>(
    samples: hound::WavIntoSamples<Cursor<&[u8]>, T>,
    f: impl Fn(T) -> f64,
) -> Result<Vec<f64>, Error>
where
    T: hound::Sample,
{
    let mut out = Vec::new();
    for s in samples {
        match s {
            Ok(v) => out.push(f(v)),
            // The bytes are in memory: an I/O error means the data ends
            // early; the caller reports the truncation.
            Err(hound::Error::IoError(_)) => break,
            Err(e) => return Err(describe(&e)),
        }
    }
    Ok(out)
}

fn describe(e: &hound::Error) -> Error {
    Error::Input(match e {
        // The bytes are in memory: an I/O error means they end early.
        hound::Error::IoError(_) => "truncated WAV: the file ends inside its header".into(),
        hound::Error::FormatError(m) => format!("not a valid WAV file: {m}"),
        hound::Error::Unsupported => {
            "unsupported WAV encoding (e.g. compressed, A-law, µ-law or 64-bit float); use PCM 8/16/24/32-bit or 32-bit float".into()
        }
        other => format!("cannot decode the WAV file: {other}"),
    })
}

/// Encodes mono 16-bit PCM (for tests and tools).
pub fn encode_pcm16(samples: &[f64], sample_rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut out, spec).expect("in-memory writer");
        for &s in samples {
            let v = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            w.write_sample(v).expect("in-memory write");
        }
        w.finalize().expect("in-memory finalize");
    }
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let x: Vec<f64> = (0..100).map(|i| (i as f64 / 10.0).sin() * 0.5).collect();
        let bytes = encode_pcm16(&x, 16000);
        let a = decode(&bytes, 1 << 20).unwrap();
        assert_eq!(a.sample_rate, 16000);
        assert_eq!(a.samples.len(), 100);
        assert!((a.samples[7] - x[7]).abs() < 1.0 / 32768.0);
        let cut = &bytes[..bytes.len() - 51];
        let e = decode(cut, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        assert!(decode(&bytes[..20], 1 << 20)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        assert!(decode(b"RIFX1234", 1 << 20).is_err());
        let empty = encode_pcm16(&[], 16000);
        assert!(decode(&empty, 1 << 20)
            .unwrap_err()
            .to_string()
            .contains("zero-length"));
        assert!(decode(&bytes, 10)
            .unwrap_err()
            .to_string()
            .contains("limit"));
    }

    /// Every depth read straight from the bytes gives what hound's
    /// per-sample reader gives, also for a file cut inside a sample.
    #[test]
    fn packed_samples_read_as_hound_reads_them() {
        let values: Vec<i64> = vec![
            0,
            1,
            -1,
            77,
            -128,
            127,
            -30000,
            30000,
            i64::from(i32::MIN) >> 1,
        ];
        for (format, bits) in [
            (hound::SampleFormat::Int, 8u16),
            (hound::SampleFormat::Int, 16),
            (hound::SampleFormat::Int, 24),
            (hound::SampleFormat::Int, 32),
            (hound::SampleFormat::Float, 32),
        ] {
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: 8000,
                bits_per_sample: bits,
                sample_format: format,
            };
            let mut out = Cursor::new(Vec::new());
            {
                let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
                for (i, &v) in values.iter().cycle().take(64).enumerate() {
                    match format {
                        hound::SampleFormat::Float => {
                            w.write_sample(v as f32 / 1e5 + i as f32).unwrap()
                        }
                        hound::SampleFormat::Int => {
                            let max = (1i64 << (bits - 1)) - 1;
                            w.write_sample(v.clamp(-max - 1, max) as i32).unwrap()
                        }
                    }
                }
                w.finalize().unwrap();
            }
            let bytes = out.into_inner();
            let fast = decode(&bytes, 1 << 20).unwrap();
            let reader = hound::WavReader::new(Cursor::new(&bytes[..])).unwrap();
            let slow = match format {
                hound::SampleFormat::Float => collect(reader.into_samples::<f32>(), |v| v as f64),
                hound::SampleFormat::Int => {
                    let scale = 1.0 / f64::from(1u32 << (bits - 1));
                    collect(reader.into_samples::<i32>(), |v| v as f64 * scale)
                }
            }
            .unwrap();
            let mono: Vec<f64> = slow
                .chunks_exact(2)
                .map(|f| f.iter().sum::<f64>() / 2.0)
                .collect();
            assert_eq!(fast.samples, mono, "{bits}-bit {format:?}");
            let e = decode(&bytes[..bytes.len() - 1], 1 << 20).unwrap_err();
            assert!(
                e.to_string().contains("the file holds 63"),
                "{bits}-bit {format:?}: {e}"
            );
        }
    }
}
