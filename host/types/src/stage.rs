//! The stages of an app's pipeline, as its timing anchors name them.

use std::fmt;

/// A stage with its own timing anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Compiling or fetching and instantiating the pre-processor.
    LoadPreprocessor,
    /// Compiling or fetching and instantiating the post-processor.
    LoadPostprocessor,
    /// Loading the model into the engine.
    LoadModel,
    /// The pre-processor on one input.
    Preprocess,
    /// One engine call.
    Inference,
    /// The post-processor on one input's outputs.
    Postprocess,
    /// One input through every stage.
    Total,
}

impl Stage {
    /// Every stage, load stages first, then in pipeline order.
    pub const ALL: [Stage; 7] = [
        Stage::LoadPreprocessor,
        Stage::LoadPostprocessor,
        Stage::LoadModel,
        Stage::Preprocess,
        Stage::Inference,
        Stage::Postprocess,
        Stage::Total,
    ];

    /// The anchor's name (as in the JSON).
    pub const fn name(self) -> &'static str {
        match self {
            Stage::LoadPreprocessor => "load.preprocessor",
            Stage::LoadPostprocessor => "load.postprocessor",
            Stage::LoadModel => "load.model",
            Stage::Preprocess => "preprocess",
            Stage::Inference => "inference",
            Stage::Postprocess => "postprocess",
            Stage::Total => "total",
        }
    }

    /// The stage an anchor name stands for, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
