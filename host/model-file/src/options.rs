//! The options every engine reads the same way, checked before a model
//! is loaded: a thread count, an input's shape.

/// The most engine threads accepted: 4 × the CPUs this process may use.
/// Engines spawn their workers at load: 65 536 threads crash libgomp, and
/// a few thousand take tract or ONNX Runtime half a minute.
pub fn max_threads() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Checks a thread count against 1..=[`max_threads`]; the message says why.
pub fn check_threads(threads: usize) -> Result<(), String> {
    let max = max_threads();
    if (1..=max).contains(&threads) {
        Ok(())
    } else {
        Err(format!(
            "must lie in 1..={max} (4 x the {} CPUs this process may use), got {threads}",
            max / 4
        ))
    }
}

/// An input's shape as users write it: `NAME=1,3,224,224` (also
/// `NAME:1x3x224x224`); the error says what is wrong with `s`.
pub fn parse_input_shape(s: &str) -> Result<(String, Vec<usize>), String> {
    let (name, dims) = s
        .rsplit_once(['=', ':'])
        .filter(|(n, _)| !n.is_empty())
        .ok_or_else(|| format!("'{s}': give NAME=DIMS, e.g. input=1,3,224,224"))?;
    let dims = dims
        .split([',', 'x'])
        .map(|d| d.trim().parse::<usize>().ok().filter(|d| *d > 0))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            format!("'{s}': dimensions are positive integers, e.g. {name}=1,3,224,224")
        })?;
    Ok((name.to_owned(), dims))
}
