"""{{name}}: a postprocessor for lpdnn-host.

`lpdnn-host component new` wrote this starting point: replace the body of
`process` with your own. Only the standard library is inside the component.
"""
import json
from typing import List

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.postprocess import Prediction, Prediction_Tensors
from wit_world.imports.types import (
    Config,
    InputMeta,
    ProcessorError_InvalidParams,
    ProcessorError_InvalidTensor,
    Tensor,
)

_params = {}
_labels = []


class Postprocess(exports.Postprocess):
    def configure(self, config: Config) -> None:
        """`config.params` is the app's `params` object, as JSON text;
        `config.labels` the app's labels."""
        global _params, _labels
        try:
            _params = json.loads(config.params)
        except ValueError as e:
            raise Err(ProcessorError_InvalidParams(f"params: {e}"))
        if not isinstance(_params, dict):
            raise Err(ProcessorError_InvalidParams("params: not a JSON object"))
        _labels = list(config.labels)

    def process(self, outputs: List[List[Tensor]], meta: InputMeta) -> Prediction:
        """The model's outputs of every chunk (one for an image) in, a prediction out."""
        if not outputs:
            raise Err(ProcessorError_InvalidTensor("no outputs"))
        # Here the last chunk's outputs come back as they are: turn them
        # into classes, detections or segments instead.
        return Prediction_Tensors(outputs[-1])
