// {{name}}: a {{world}} for lpdnn-host.
// `lpdnn-host component new` wrote this starting point: replace the body of
// the process function with your own. The types and functions come from
// gen/{{c_world}}.h, which build.sh makes with `wit-bindgen c`.
#include <stdlib.h>
#include <string.h>

#include "{{c_world}}.h"

typedef exports_lpdnn_processing_{{iface_snake}}_processor_error_t error_t;

// Every case of processor-error carries a string: set the tag and the text.
static void fail(error_t *err, uint8_t tag, const char *message) {
  err->tag = tag;
  {{c_world}}_string_dup(&err->val.internal, message);
}

// config->params is the app's `params` object, as JSON text (not
// NUL-terminated). Arguments are the callee's to free.
bool exports_lpdnn_processing_{{iface_snake}}_configure(
    exports_lpdnn_processing_{{iface_snake}}_config_t *config, error_t *err) {
  bool ok = config->params.len > 0 && config->params.ptr[0] == '{';
  if (!ok) fail(err, LPDNN_PROCESSING_TYPES_PROCESSOR_ERROR_INVALID_PARAMS, "params: not a JSON object");
  exports_lpdnn_processing_{{iface_snake}}_config_free(config);
  return ok;
}

// The input file's bytes (untrusted) in, the model's tensors out.
bool exports_lpdnn_processing_{{iface_snake}}_process(
    {{c_world}}_list_u8_t *{{arg}}, exports_lpdnn_processing_{{iface_snake}}_preprocessed_t *ret,
    error_t *err) {
  if ({{arg}}->len == 0) {
    fail(err, LPDNN_PROCESSING_TYPES_PROCESSOR_ERROR_INVALID_INPUT, "the input is empty");
    {{c_world}}_list_u8_free({{arg}});
    return false;
  }
  // Here the raw bytes become one u8 tensor [1, N]: decode and normalise
  // them into what your model takes instead.
  lpdnn_processing_types_tensor_t *tensor = calloc(1, sizeof *tensor);
  uint32_t *shape = malloc(2 * sizeof *shape);
  lpdnn_processing_types_list_tensor_t *chunk = malloc(sizeof *chunk);
  if (!tensor || !shape || !chunk) abort();
  shape[0] = 1;
  shape[1] = (uint32_t){{arg}}->len;
  tensor->shape.ptr = shape;
  tensor->shape.len = 2;
  tensor->dtype = LPDNN_PROCESSING_TYPES_DTYPE_U8;
  tensor->data = *{{arg}};  // the input's buffer moves into the tensor
  chunk->ptr = tensor;
  chunk->len = 1;
  ret->chunks.ptr = chunk;
  ret->chunks.len = 1;
  ret->meta.tag = LPDNN_PROCESSING_TYPES_INPUT_META_NONE;
  return true;
}
