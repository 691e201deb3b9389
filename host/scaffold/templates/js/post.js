// {{name}}: a postprocessor for lpdnn-host.
// `lpdnn-host component new` wrote this starting point: replace the body of
// `process` with your own.

let params = {};
let labels = [];

// A thrown plain object { tag, val } is the processor-error the host
// reports; a thrown Error is a crash of the component.
function fail(tag, message) {
  throw { tag, val: message };
}

export const postprocess = {
  // `config.params` is the app's `params` object, as JSON text;
  // `config.labels` the app's labels.
  configure(config) {
    try {
      params = JSON.parse(config.params);
    } catch (e) {
      fail('invalid-params', `params: ${e.message}`);
    }
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      fail('invalid-params', 'params: not a JSON object');
    }
    labels = Array.from(config.labels);
  },

  // The model's outputs of every chunk (one for an image) in, a prediction
  // out. Tensor data are Uint8Arrays of packed little-endian elements.
  process(outputs, _meta) {
    if (outputs.length === 0) fail('invalid-tensor', 'no outputs');
    // Here the last chunk's outputs come back as they are: turn them into
    // classes, detections or segments instead.
    return { tag: 'tensors', val: outputs[outputs.length - 1] };
  },
};
