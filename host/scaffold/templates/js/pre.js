// {{name}}: a {{world}} for lpdnn-host.
// `lpdnn-host component new` wrote this starting point: replace the body of
// `process` with your own.

let params = {};

// A thrown plain object { tag, val } is the processor-error the host
// reports; a thrown Error is a crash of the component.
function fail(tag, message) {
  throw { tag, val: message };
}

export const {{camel}} = {
  // `config.params` is the app's `params` object, as JSON text.
  configure(config) {
    try {
      params = JSON.parse(config.params);
    } catch (e) {
      fail('invalid-params', `params: ${e.message}`);
    }
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      fail('invalid-params', 'params: not a JSON object');
    }
  },

  // The input file's bytes (a Uint8Array, untrusted) in, the model's tensors out.
  process({{arg}}) {
    if ({{arg}}.length === 0) fail('invalid-input', 'the input is empty');
    // Here the raw bytes become one u8 tensor [1, N]: decode and normalise
    // them into what your model takes instead.
    const tensor = { name: '', shape: [1, {{arg}}.length], dtype: 'u8', data: {{arg}} };
    return { chunks: [[tensor]], meta: { tag: 'none' } };
  },
};
