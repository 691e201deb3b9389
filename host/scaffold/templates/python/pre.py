"""{{name}}: a {{world}} for lpdnn-host.

`lpdnn-host component new` wrote this starting point: replace the body of
`process` with your own. Only the standard library is inside the component.
"""
import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    Config,
    Dtype,
    InputMeta_None_,
    Preprocessed,
    ProcessorError_InvalidInput,
    ProcessorError_InvalidParams,
    Tensor,
)

_params = {}


class {{Class}}(exports.{{Class}}):
    def configure(self, config: Config) -> None:
        """`config.params` is the app's `params` object, as JSON text."""
        global _params
        try:
            _params = json.loads(config.params)
        except ValueError as e:
            raise Err(ProcessorError_InvalidParams(f"params: {e}"))
        if not isinstance(_params, dict):
            raise Err(ProcessorError_InvalidParams("params: not a JSON object"))

    def process(self, {{arg}}: bytes) -> Preprocessed:
        """The input file's bytes (untrusted) in, the model's tensors out."""
        if not {{arg}}:
            raise Err(ProcessorError_InvalidInput("the input is empty"))
        # Here the raw bytes become one u8 tensor [1, N]: decode and
        # normalise them into what your model takes instead.
        tensor = Tensor(name="", shape=[1, len({{arg}})], dtype=Dtype.U8, data=bytes({{arg}}))
        return Preprocessed(chunks=[[tensor]], meta=InputMeta_None_())
