// {{name}}: a postprocessor for lpdnn-host.
// `lpdnn-host component new` wrote this starting point: replace the body of
// the process function with your own. The types and functions come from
// gen/postprocessor.h, which build.sh makes with `wit-bindgen c`.
#include <stdlib.h>
#include <string.h>

#include "postprocessor.h"

typedef exports_lpdnn_processing_postprocess_processor_error_t error_t;

// Every case of processor-error carries a string: set the tag and the text.
static void fail(error_t *err, uint8_t tag, const char *message) {
  err->tag = tag;
  postprocessor_string_dup(&err->val.internal, message);
}

// config->params is the app's `params` object, as JSON text (not
// NUL-terminated); config->labels the app's labels. Arguments are the
// callee's to free.
bool exports_lpdnn_processing_postprocess_configure(
    exports_lpdnn_processing_postprocess_config_t *config, error_t *err) {
  bool ok = config->params.len > 0 && config->params.ptr[0] == '{';
  if (!ok) fail(err, LPDNN_PROCESSING_TYPES_PROCESSOR_ERROR_INVALID_PARAMS, "params: not a JSON object");
  exports_lpdnn_processing_postprocess_config_free(config);
  return ok;
}

// The model's outputs of every chunk (one for an image) in, a prediction out.
bool exports_lpdnn_processing_postprocess_process(
    exports_lpdnn_processing_postprocess_list_list_tensor_t *outputs,
    exports_lpdnn_processing_postprocess_input_meta_t *meta,
    exports_lpdnn_processing_postprocess_prediction_t *ret, error_t *err) {
  exports_lpdnn_processing_postprocess_input_meta_free(meta);
  if (outputs->len == 0) {
    fail(err, LPDNN_PROCESSING_TYPES_PROCESSOR_ERROR_INVALID_TENSOR, "no outputs");
    exports_lpdnn_processing_postprocess_list_list_tensor_free(outputs);
    return false;
  }
  // Here the last chunk's outputs come back as they are: turn them into
  // classes, detections or segments instead.
  exports_lpdnn_processing_postprocess_list_tensor_t *last = &outputs->ptr[outputs->len - 1];
  ret->tag = EXPORTS_LPDNN_PROCESSING_POSTPROCESS_PREDICTION_TENSORS;
  ret->val.tensors.ptr = last->ptr;  // moved: the host frees it after the call
  ret->val.tensors.len = last->len;
  last->ptr = NULL;
  last->len = 0;
  exports_lpdnn_processing_postprocess_list_list_tensor_free(outputs);
  return true;
}
