//! The layer lines of an NCNN `.param` file (text): what `lpdnn-inspect`
//! counts and what the NCNN engine times layer by layer.

/// One layer line: `Type name bottom_count top_count bottoms... tops... id=value...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NcnnLayer<'a> {
    /// The layer's type (`Convolution`, `Split`, `Input`).
    pub kind: &'a str,
    /// The layer's name, unique in the file.
    pub name: &'a str,
    /// The blobs it reads.
    pub bottoms: Vec<&'a str>,
    /// The blobs it writes.
    pub tops: Vec<&'a str>,
    /// Its parameters as written (`0=24`; an array's id is below -23300).
    pub params: Vec<(&'a str, &'a str)>,
}

/// The layers of a `.param` text, in file order (NCNN's: each layer after
/// the layers whose blobs it reads). Errors name the line's layer.
pub fn ncnn_layers(text: &str) -> Result<Vec<NcnnLayer<'_>>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    if lines.next().map(str::trim) != Some("7767517") {
        return Err("the first line is not NCNN's magic 7767517".into());
    }
    let counts = lines.next().ok_or("no layer and blob counts on line 2")?;
    let layer_count: usize = counts
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or("line 2 is not `layer_count blob_count`")?;
    let mut layers = Vec::with_capacity(layer_count.min(100_000));
    for (i, line) in lines.enumerate() {
        let mut words = line.split_whitespace();
        let (Some(kind), Some(name)) = (words.next(), words.next()) else {
            return Err(format!("layer {i}: no type and name"));
        };
        let mut count = |what: &str| {
            words
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| format!("layer {name}: no {what} count"))
        };
        let (bottoms, tops) = (count("input")?, count("output")?);
        let mut blobs = |n: usize| -> Result<Vec<&str>, String> {
            (0..n)
                .map(|_| {
                    words
                        .next()
                        .ok_or_else(|| format!("layer {name}: fewer blobs than its counts"))
                })
                .collect()
        };
        let (bottoms, tops) = (blobs(bottoms)?, blobs(tops)?);
        let params = words
            .map(|kv| {
                kv.split_once('=')
                    .ok_or_else(|| format!("layer {name}: `{kv}` is not id=value"))
            })
            .collect::<Result<_, _>>()?;
        layers.push(NcnnLayer {
            kind,
            name,
            bottoms,
            tops,
            params,
        });
    }
    if layers.len() != layer_count {
        return Err(format!(
            "line 2 announces {layer_count} layers, the file has {}",
            layers.len()
        ));
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_line_is_split_into_its_blobs_and_parameters() {
        let text = "7767517\n2 3\nInput in0 0 1 in0\nSplit splitncnn_0 1 2 in0 a b 0=1\n";
        let layers = ncnn_layers(text).unwrap();
        assert_eq!(layers[1].kind, "Split");
        assert_eq!(layers[1].bottoms, ["in0"]);
        assert_eq!(layers[1].tops, ["a", "b"]);
        assert_eq!(layers[1].params, [("0", "1")]);
        let short = ncnn_layers("7767517\n1 2\nSplit s 1 2 in0 a\n").unwrap_err();
        assert!(short.contains("layer s"), "{short}");
        let count = ncnn_layers("7767517\n2 1\nInput in0 0 1 in0\n").unwrap_err();
        assert!(count.contains("announces 2"), "{count}");
    }
}
