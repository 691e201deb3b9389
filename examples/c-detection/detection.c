// BlazeFace / SSD detection post-processor, in C, for lpdnn:processing@0.2.0.
//
// Decodes SSD anchors (MediaPipe's SsdAnchorsCalculator), boxes and
// keypoints relative to them, sigmoid (or raw/softmax) scores, hard or
// weighted non-maximum suppression, and maps the result to original-image
// pixels through the image geometry the pre-processor reported. All
// arithmetic is in f32, in the same order of operations as lpdnn's Rust
// `detection` component, so both give the same numbers.
//
// Parameters (app.json "postprocessor.params"), all as in the Rust component:
//   anchors {type: "ssd", num_layers, strides, min_scale, max_scale,
//            input_width, input_height, anchor_offset_x (0.5),
//            anchor_offset_y (0.5), aspect_ratios ([1]),
//            interpolated_scale_aspect_ratio (0), fixed_anchor_size (false),
//            reduce_boxes_in_lowest_layer (false)}
//   boxes, scores          output names (required)
//   box_format ("xywh")    or "yxhw"
//   scale ([1,1,1,1])      divisors of the raw x, y, w, h
//   num_keypoints (0), keypoint_offset (4)
//   score ("sigmoid")      or "raw" or "softmax"; score_clip (100);
//   score_class (1); min_score (0.5)
//   nms {method: "hard"|"weighted", iou_threshold (0.3)}
//   max_detections (100)
// Not supported here (refused with invalid-params naming the field):
//   anchors.type "retinaface", a separate "keypoints" output, "variance".

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "postprocessor.h"

// ---------------------------------------------------------------- errors

static char errbuf[512];

__attribute__((format(printf, 1, 2))) static bool fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
  va_end(ap);
  return false;
}

// ---------------------------------------------------------------- params

enum score_fn { SCORE_SIGMOID, SCORE_SOFTMAX, SCORE_RAW };
enum nms_method { NMS_HARD, NMS_WEIGHTED };

typedef struct {
  // anchors (type "ssd")
  size_t num_layers;
  uint32_t *strides;
  size_t n_strides;
  float min_scale, max_scale;
  uint32_t input_width, input_height;
  float anchor_offset_x, anchor_offset_y;
  float *aspect_ratios;
  size_t n_aspect_ratios;
  float interpolated_scale_aspect_ratio;
  bool fixed_anchor_size, reduce_boxes_in_lowest_layer;
  // decoding
  char *boxes, *scores;
  bool yxhw;
  float scale[4];
  size_t num_keypoints, keypoint_offset;
  enum score_fn score;
  float score_clip;
  size_t score_class;
  float min_score;
  enum nms_method nms_method;
  float iou_threshold;
  size_t max_detections;
} params_t;

typedef struct {
  float x, y, w, h;
} anchor_t;

static void params_free(params_t *p) {
  free(p->strides);
  free(p->aspect_ratios);
  free(p->boxes);
  free(p->scores);
  memset(p, 0, sizeof *p);
}

// A parsed JSON document: jsmn tokens over the text.
typedef struct {
  const char *js;
  jsmntok_t *tok;
  int ntok;
} doc_t;

// Index of the token after token i and all its children.
static int skip(const doc_t *d, int i) {
  int end = d->tok[i].end, j = i + 1;
  while (j < d->ntok && d->tok[j].start < end) j++;
  return j;
}

static bool tok_is(const doc_t *d, int i, const char *s) {
  const jsmntok_t *t = &d->tok[i];
  size_t n = strlen(s);
  return (size_t)(t->end - t->start) == n && memcmp(d->js + t->start, s, n) == 0;
}

// Decodes a JSON string token (escapes included) into a fresh C string.
static bool get_string(const doc_t *d, int i, const char *name, char **out) {
  const jsmntok_t *t = &d->tok[i];
  if (t->type != JSMN_STRING) return fail("invalid type for %s: expected a string", name);
  char *s = malloc((size_t)(t->end - t->start) + 1), *o = s;
  if (!s) return fail("out of memory");
  for (int k = t->start; k < t->end; k++) {
    char c = d->js[k];
    if (c != '\\') {
      *o++ = c;
      continue;
    }
    c = d->js[++k];
    switch (c) {
      case 'n': *o++ = '\n'; break;
      case 't': *o++ = '\t'; break;
      case 'r': *o++ = '\r'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'u': {
        unsigned v = 0;
        for (int q = 1; q <= 4; q++) {
          char h = d->js[k + q];
          v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
        }
        k += 4;
        if (v >= 0xd800 && v < 0xe000) {  // surrogates: not in output names
          free(s);
          return fail("invalid value for %s: \\u surrogate escapes are not supported", name);
        }
        if (v < 0x80) *o++ = (char)v;
        else if (v < 0x800) *o++ = (char)(0xc0 | v >> 6), *o++ = (char)(0x80 | (v & 63));
        else *o++ = (char)(0xe0 | v >> 12), *o++ = (char)(0x80 | ((v >> 6) & 63)), *o++ = (char)(0x80 | (v & 63));
        break;
      }
      default: *o++ = c;  // \" \\ \/ (jsmn checked the escape)
    }
  }
  *o = 0;
  *out = s;
  return true;
}

// A JSON number as serde_json reads it into an f32: as f64, then rounded.
static bool get_f32(const doc_t *d, int i, const char *name, float *out) {
  const jsmntok_t *t = &d->tok[i];
  char buf[64];
  int n = t->end - t->start;
  if (t->type != JSMN_PRIMITIVE || n <= 0 || n >= (int)sizeof buf)
    return fail("invalid type for %s: expected a number", name);
  memcpy(buf, d->js + t->start, (size_t)n);
  buf[n] = 0;
  // JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  const char *p = buf;
  if (*p == '-') p++;
  if (*p == '0') p++;
  else if (*p >= '1' && *p <= '9') while (*p >= '0' && *p <= '9') p++;
  else return fail("invalid type for %s: expected a number, got %s", name, buf);
  if (*p == '.') {
    p++;
    if (!(*p >= '0' && *p <= '9')) return fail("invalid number for %s: %s", name, buf);
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!(*p >= '0' && *p <= '9')) return fail("invalid number for %s: %s", name, buf);
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p) return fail("invalid number for %s: %s", name, buf);
  *out = (float)strtod(buf, NULL);
  return true;
}

// A non-negative JSON integer (serde refuses 1.0 for an integer field).
static bool get_uint(const doc_t *d, int i, const char *name, uint64_t max, uint64_t *out) {
  const jsmntok_t *t = &d->tok[i];
  uint64_t v = 0;
  if (t->type != JSMN_PRIMITIVE || t->end <= t->start)
    return fail("invalid type for %s: expected a non-negative integer", name);
  for (int k = t->start; k < t->end; k++) {
    char c = d->js[k];
    if (c < '0' || c > '9' || (k == t->start && c == '0' && t->end - t->start > 1))
      return fail("invalid type for %s: expected a non-negative integer, got %.*s", name,
                  t->end - t->start, d->js + t->start);
    if (v > (UINT64_MAX - 9) / 10) return fail("%s is too large", name);
    v = v * 10 + (uint64_t)(c - '0');
  }
  if (v > max) return fail("invalid value for %s: %llu is out of range", name, (unsigned long long)v);
  *out = v;
  return true;
}

static bool get_u32(const doc_t *d, int i, const char *name, uint32_t *out) {
  uint64_t v;
  if (!get_uint(d, i, name, UINT32_MAX, &v)) return false;
  *out = (uint32_t)v;
  return true;
}

static bool get_usize(const doc_t *d, int i, const char *name, size_t *out) {
  uint64_t v;
  if (!get_uint(d, i, name, SIZE_MAX, &v)) return false;
  *out = (size_t)v;
  return true;
}

static bool get_bool(const doc_t *d, int i, const char *name, bool *out) {
  if (d->tok[i].type == JSMN_PRIMITIVE && tok_is(d, i, "true")) *out = true;
  else if (d->tok[i].type == JSMN_PRIMITIVE && tok_is(d, i, "false")) *out = false;
  else return fail("invalid type for %s: expected a boolean", name);
  return true;
}

static bool get_f32_array(const doc_t *d, int i, const char *name, float **out, size_t *n) {
  const jsmntok_t *t = &d->tok[i];
  if (t->type != JSMN_ARRAY) return fail("invalid type for %s: expected an array of numbers", name);
  float *v = malloc(sizeof(float) * (size_t)(t->size ? t->size : 1));
  if (!v) return fail("out of memory");
  int j = i + 1;
  for (int k = 0; k < t->size; k++, j = skip(d, j))
    if (!get_f32(d, j, name, &v[k])) return free(v), false;
  free(*out);
  *out = v;
  *n = (size_t)t->size;
  return true;
}

static bool get_u32_array(const doc_t *d, int i, const char *name, uint32_t **out, size_t *n) {
  const jsmntok_t *t = &d->tok[i];
  if (t->type != JSMN_ARRAY) return fail("invalid type for %s: expected an array of integers", name);
  uint32_t *v = malloc(sizeof(uint32_t) * (size_t)(t->size ? t->size : 1));
  if (!v) return fail("out of memory");
  int j = i + 1;
  for (int k = 0; k < t->size; k++, j = skip(d, j))
    if (!get_u32(d, j, name, &v[k])) return free(v), false;
  free(*out);
  *out = v;
  *n = (size_t)t->size;
  return true;
}

// Walks the keys of object token `obj`; refuses duplicate keys and keys not in
// `known` (NULL-terminated); calls `field(key index, value token)`.
typedef bool (*field_fn)(const doc_t *, int key, int val, void *ctx);

static bool each_field(const doc_t *d, int obj, const char *where, const char *const *known,
                       field_fn field, void *ctx) {
  if (d->tok[obj].type != JSMN_OBJECT) return fail("invalid type for %s: expected an object", where);
  unsigned seen = 0;
  int j = obj + 1;
  for (int k = 0; k < d->tok[obj].size; k++) {
    int key = j, val = j + 1;
    if (val >= d->ntok || d->tok[key].type != JSMN_STRING || d->tok[key].size != 1)
      return fail("params are not valid JSON");
    int idx = -1;
    for (int q = 0; known[q]; q++)
      if (tok_is(d, key, known[q])) idx = q;
    if (idx < 0)
      return fail("unknown field `%s%.*s`%s", where[0] ? "" : "", d->tok[key].end - d->tok[key].start,
                  d->js + d->tok[key].start, where[0] ? where : "");
    if (seen & (1u << idx)) return fail("duplicate field `%s`", known[idx]);
    seen |= 1u << idx;
    if (!field(d, idx, val, ctx)) return false;
    j = skip(d, val);
  }
  return true;
}

static const char *const anchor_keys[] = {
    "type", "num_layers", "strides", "min_scale", "max_scale", "input_width", "input_height",
    "anchor_offset_x", "anchor_offset_y", "aspect_ratios", "interpolated_scale_aspect_ratio",
    "fixed_anchor_size", "reduce_boxes_in_lowest_layer", NULL};

typedef struct {
  params_t *p;
  unsigned have;
} actx_t;

static bool anchor_field(const doc_t *d, int k, int v, void *vctx) {
  actx_t *c = vctx;
  params_t *p = c->p;
  c->have |= 1u << k;
  switch (k) {
    case 0:
      if (d->tok[v].type == JSMN_STRING && tok_is(d, v, "ssd")) return true;
      if (d->tok[v].type == JSMN_STRING && tok_is(d, v, "retinaface"))
        return fail("anchors.type \"retinaface\" is not supported by this component (only \"ssd\")");
      return fail("unknown variant for anchors.type: expected \"ssd\"");
    case 1: return get_usize(d, v, "anchors.num_layers", &p->num_layers);
    case 2: return get_u32_array(d, v, "anchors.strides", &p->strides, &p->n_strides);
    case 3: return get_f32(d, v, "anchors.min_scale", &p->min_scale);
    case 4: return get_f32(d, v, "anchors.max_scale", &p->max_scale);
    case 5: return get_u32(d, v, "anchors.input_width", &p->input_width);
    case 6: return get_u32(d, v, "anchors.input_height", &p->input_height);
    case 7: return get_f32(d, v, "anchors.anchor_offset_x", &p->anchor_offset_x);
    case 8: return get_f32(d, v, "anchors.anchor_offset_y", &p->anchor_offset_y);
    case 9: return get_f32_array(d, v, "anchors.aspect_ratios", &p->aspect_ratios, &p->n_aspect_ratios);
    case 10: return get_f32(d, v, "anchors.interpolated_scale_aspect_ratio", &p->interpolated_scale_aspect_ratio);
    case 11: return get_bool(d, v, "anchors.fixed_anchor_size", &p->fixed_anchor_size);
    case 12: return get_bool(d, v, "anchors.reduce_boxes_in_lowest_layer", &p->reduce_boxes_in_lowest_layer);
  }
  return false;
}

static const char *const nms_keys[] = {"method", "iou_threshold", NULL};

static bool nms_field(const doc_t *d, int k, int v, void *vctx) {
  params_t *p = vctx;
  if (k == 1) return get_f32(d, v, "nms.iou_threshold", &p->iou_threshold);
  if (d->tok[v].type == JSMN_STRING && tok_is(d, v, "hard")) p->nms_method = NMS_HARD;
  else if (d->tok[v].type == JSMN_STRING && tok_is(d, v, "weighted")) p->nms_method = NMS_WEIGHTED;
  else return fail("unknown variant for nms.method: expected \"hard\" or \"weighted\"");
  return true;
}

static const char *const top_keys[] = {
    "anchors", "boxes", "scores", "keypoints", "box_format", "scale", "variance", "num_keypoints",
    "keypoint_offset", "score", "score_clip", "score_class", "min_score", "nms", "max_detections", NULL};

typedef struct {
  params_t *p;
  unsigned have;
} tctx_t;

static bool top_field(const doc_t *d, int k, int v, void *vctx) {
  tctx_t *c = vctx;
  params_t *p = c->p;
  c->have |= 1u << k;
  switch (k) {
    case 0: {
      actx_t a = {p, 0};
      if (!each_field(d, v, " in anchors", anchor_keys, anchor_field, &a)) return false;
      static const char *const req[] = {"type", "num_layers", "strides", "min_scale", "max_scale",
                                        "input_width", "input_height"};
      for (int q = 0; q < 7; q++)
        if (!(a.have & (1u << q))) return fail("missing field `%s` in anchors", req[q]);
      return true;
    }
    case 1: return get_string(d, v, "boxes", &p->boxes);
    case 2: return get_string(d, v, "scores", &p->scores);
    case 3: {
      char *s = NULL;
      if (!get_string(d, v, "keypoints", &s)) return false;
      bool empty = !*s;
      free(s);
      return empty || fail("keypoints: a separate keypoint output is not supported by this component");
    }
    case 4:
      if (d->tok[v].type == JSMN_STRING && tok_is(d, v, "xywh")) p->yxhw = false;
      else if (d->tok[v].type == JSMN_STRING && tok_is(d, v, "yxhw")) p->yxhw = true;
      else return fail("box_format must be xywh or yxhw, got %.*s", d->tok[v].end - d->tok[v].start, d->js + d->tok[v].start);
      return true;
    case 5: {
      float *s = NULL;
      size_t n = 0;
      if (!get_f32_array(d, v, "scale", &s, &n)) return false;
      if (n != 4) return free(s), fail("invalid length %zu for scale: expected 4 numbers", n);
      memcpy(p->scale, s, sizeof p->scale);
      free(s);
      return true;
    }
    case 6:
      return (d->tok[v].type == JSMN_PRIMITIVE && tok_is(d, v, "null")) ||
             fail("variance (RetinaFace decoding) is not supported by this component");
    case 7: return get_usize(d, v, "num_keypoints", &p->num_keypoints);
    case 8: return get_usize(d, v, "keypoint_offset", &p->keypoint_offset);
    case 9:
      if (d->tok[v].type == JSMN_STRING && tok_is(d, v, "sigmoid")) p->score = SCORE_SIGMOID;
      else if (d->tok[v].type == JSMN_STRING && tok_is(d, v, "softmax")) p->score = SCORE_SOFTMAX;
      else if (d->tok[v].type == JSMN_STRING && tok_is(d, v, "raw")) p->score = SCORE_RAW;
      else return fail("unknown variant for score: expected \"sigmoid\", \"softmax\" or \"raw\"");
      return true;
    case 10: return get_f32(d, v, "score_clip", &p->score_clip);
    case 11: return get_usize(d, v, "score_class", &p->score_class);
    case 12: return get_f32(d, v, "min_score", &p->min_score);
    case 13: return each_field(d, v, " in nms", nms_keys, nms_field, p);
    case 14: return get_usize(d, v, "max_detections", &p->max_detections);
  }
  return false;
}

static bool in01(float v) { return v >= 0.0f && v <= 1.0f; }

// Parses and checks the params text; the ranges are the Rust component's.
static bool params_parse(const char *js, size_t len, params_t *p) {
  memset(p, 0, sizeof *p);
  p->anchor_offset_x = p->anchor_offset_y = 0.5f;
  p->scale[0] = p->scale[1] = p->scale[2] = p->scale[3] = 1.0f;
  p->keypoint_offset = 4;
  p->score = SCORE_SIGMOID;
  p->score_clip = 100.0f;
  p->score_class = 1;
  p->min_score = 0.5f;
  p->nms_method = NMS_HARD;
  p->iou_threshold = 0.3f;
  p->max_detections = 100;

  jsmn_parser jp;
  jsmn_init(&jp);
  int ntok = jsmn_parse(&jp, js, len, NULL, 0);
  if (ntok < 1) return fail("params are not valid JSON");
  doc_t d = {js, calloc((size_t)ntok, sizeof(jsmntok_t)), ntok};
  if (!d.tok) return fail("out of memory");
  jsmn_init(&jp);
  bool ok = jsmn_parse(&jp, js, len, d.tok, (unsigned)ntok) == ntok && skip(&d, 0) == ntok;
  if (!ok) fail("params are not valid JSON");
  tctx_t c = {p, 0};
  ok = ok && each_field(&d, 0, "", top_keys, top_field, &c);
  free(d.tok);
  if (!ok) return false;
  if (!(c.have & 1)) return fail("missing field `anchors`");
  if (!(c.have & 2)) return fail("missing field `boxes`");
  if (!(c.have & 4)) return fail("missing field `scores`");
  if (!p->aspect_ratios) {
    p->aspect_ratios = malloc(sizeof(float));
    if (!p->aspect_ratios) return fail("out of memory");
    p->aspect_ratios[0] = 1.0f;
    p->n_aspect_ratios = 1;
  }

  for (int q = 0; q < 4; q++)
    if (!(isfinite(p->scale[q]) && p->scale[q] > 0.0f))
      return fail("scale values must be positive, got [%g, %g, %g, %g]", p->scale[0], p->scale[1],
                  p->scale[2], p->scale[3]);
  if (!(isfinite(p->score_clip) && p->score_clip > 0.0f))
    return fail("score_clip must be positive, got %g", p->score_clip);
  if (!isfinite(p->min_score)) return fail("min_score must be a finite number, got %g", p->min_score);
  if (!in01(p->iou_threshold)) return fail("nms.iou_threshold must lie in 0..=1, got %g", p->iou_threshold);
  if (p->max_detections < 1 || p->max_detections > 10000)
    return fail("max_detections must lie in 1..=10000, got %zu", p->max_detections);
  if (p->num_keypoints > 1000) return fail("num_keypoints must be at most 1000, got %zu", p->num_keypoints);
  if (p->input_width < 1 || p->input_width > 16384)
    return fail("anchors.input_width must lie in 1..=16384, got %u", p->input_width);
  if (p->input_height < 1 || p->input_height > 16384)
    return fail("anchors.input_height must lie in 1..=16384, got %u", p->input_height);
  if (p->num_layers == 0 || p->num_layers != p->n_strides)
    return fail("anchors.num_layers (%zu) must be positive and equal the number of strides (%zu)",
                p->num_layers, p->n_strides);
  for (size_t q = 0; q < p->n_strides; q++)
    if (p->strides[q] == 0 || p->strides[q] > 16384)
      return fail("anchors.strides must lie in 1..=16384, got %u", p->strides[q]);
  if (!(isfinite(p->min_scale) && isfinite(p->max_scale) && 0.0f < p->min_scale && p->min_scale <= p->max_scale))
    return fail("anchors.min_scale and max_scale must satisfy 0 < min_scale <= max_scale, got %g and %g",
                p->min_scale, p->max_scale);
  if (!in01(p->anchor_offset_x)) return fail("anchors.anchor_offset_x must lie in 0..=1, got %g", p->anchor_offset_x);
  if (!in01(p->anchor_offset_y)) return fail("anchors.anchor_offset_y must lie in 0..=1, got %g", p->anchor_offset_y);
  if (p->n_aspect_ratios < 1 || p->n_aspect_ratios > 64)
    return fail("anchors.aspect_ratios must hold 1 to 64 positive numbers, got %zu", p->n_aspect_ratios);
  for (size_t q = 0; q < p->n_aspect_ratios; q++)
    if (!(isfinite(p->aspect_ratios[q]) && p->aspect_ratios[q] > 0.0f))
      return fail("anchors.aspect_ratios must hold 1 to 64 positive numbers, got %g", p->aspect_ratios[q]);
  if (!(isfinite(p->interpolated_scale_aspect_ratio) && p->interpolated_scale_aspect_ratio >= 0.0f))
    return fail("anchors.interpolated_scale_aspect_ratio must be 0 or positive, got %g",
                p->interpolated_scale_aspect_ratio);
  return true;
}

// ---------------------------------------------------------------- anchors

static float layer_scale(const params_t *p, size_t i) {
  size_t n = p->num_layers;
  if (n == 1) return (p->min_scale + p->max_scale) * 0.5f;
  return p->min_scale + (p->max_scale - p->min_scale) * (float)i / (float)(n - 1);
}

// MediaPipe's SsdAnchorsCalculator, in the model's output order.
static bool anchors_generate(const params_t *p, anchor_t **out, size_t *count) {
  size_t n = p->num_layers, cap = 0, len = 0;
  anchor_t *a = NULL;
  size_t per = 2 * p->n_aspect_ratios + 4;  // most (ratio, scale) pairs one layer adds
  float *ratios = malloc(sizeof(float) * per * n), *scales = malloc(sizeof(float) * per * n);
  if (!ratios || !scales) goto oom;
  for (size_t layer = 0; layer < n;) {
    size_t m = 0, last = layer;
    while (last < n && p->strides[last] == p->strides[layer]) {
      float s = layer_scale(p, last);
      if (last == 0 && p->reduce_boxes_in_lowest_layer) {
        ratios[m] = 1.0f, scales[m++] = 0.1f;
        ratios[m] = 2.0f, scales[m++] = s;
        ratios[m] = 0.5f, scales[m++] = s;
      } else {
        for (size_t r = 0; r < p->n_aspect_ratios; r++) ratios[m] = p->aspect_ratios[r], scales[m++] = s;
        if (p->interpolated_scale_aspect_ratio > 0.0f) {
          float next = last == n - 1 ? 1.0f : layer_scale(p, last + 1);
          scales[m] = sqrtf(s * next);
          ratios[m++] = p->interpolated_scale_aspect_ratio;
        }
      }
      last++;
    }
    uint32_t stride = p->strides[layer];
    uint32_t fh = (p->input_height + stride - 1) / stride, fw = (p->input_width + stride - 1) / stride;
    size_t add = (size_t)fh * fw * m;
    if (len + add > cap) {
      cap = len + add;
      anchor_t *g = realloc(a, sizeof(anchor_t) * (cap ? cap : 1));
      if (!g) goto oom;
      a = g;
    }
    for (uint32_t y = 0; y < fh; y++)
      for (uint32_t x = 0; x < fw; x++)
        for (size_t q = 0; q < m; q++) {
          float w = 1.0f, h = 1.0f;
          if (!p->fixed_anchor_size) {
            float rs = sqrtf(ratios[q]);
            w = scales[q] * rs;
            h = scales[q] / rs;
          }
          a[len++] = (anchor_t){((float)x + p->anchor_offset_x) / (float)fw,
                                ((float)y + p->anchor_offset_y) / (float)fh, w, h};
        }
    layer = last;
  }
  free(ratios);
  free(scales);
  *out = a;
  *count = len;
  return true;
oom:
  free(ratios);
  free(scales);
  free(a);
  return fail("anchors: out of memory generating them");
}

// ---------------------------------------------------------------- decoding

typedef struct {
  float b[4];  // x0, y0, x1, y1, tensor-normalized
  float score;
  float *kp;  // num_keypoints (x, y) pairs
} cand_t;

// Rust's f32::total_cmp as a key: orders every float, -0 below +0.
static int32_t total_key(float f) {
  int32_t i;
  memcpy(&i, &f, 4);
  return i ^ (int32_t)((uint32_t)(i >> 31) >> 1);
}

static void sort_best_first(cand_t *c, size_t n, cand_t *tmp) {
  // Stable merge sort, descending by total_cmp, as Rust's sort_by.
  if (n < 2) return;
  size_t h = n / 2;
  sort_best_first(c, h, tmp);
  sort_best_first(c + h, n - h, tmp);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = total_key(c[j].score) > total_key(c[i].score) ? c[j++] : c[i++];
  while (i < h) tmp[k++] = c[i++];
  while (j < n) tmp[k++] = c[j++];
  memcpy(c, tmp, n * sizeof *c);
}

static float iou(const float *a, const float *b) {
  float iw = fmaxf(fminf(a[2], b[2]) - fmaxf(a[0], b[0]), 0.0f);
  float ih = fmaxf(fminf(a[3], b[3]) - fmaxf(a[1], b[1]), 0.0f);
  float inter = iw * ih;
  float uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni > 0.0f ? inter / uni : 0.0f;
}

// Suppression over candidates sorted best first, in place; returns the count
// kept. Weighted merging averages boxes and keypoints by score, summed in the
// same order as the Rust code (the best, then its overlaps in score order).
static size_t nms(const params_t *p, cand_t *c, size_t n, size_t *idx, size_t *ov) {
  size_t kept = 0, nrem = n, nk = p->num_keypoints;
  for (size_t i = 0; i < n; i++) idx[i] = i;
  while (nrem > 0) {
    size_t best = idx[0], nov = 0, nrest = 0;
    ov[nov++] = best;
    for (size_t i = 1; i < nrem; i++) {
      if (iou(c[idx[i]].b, c[best].b) > p->iou_threshold) ov[nov++] = idx[i];
      else idx[nrest++] = idx[i];
    }
    nrem = nrest;
    cand_t m = c[best];
    if (p->nms_method == NMS_WEIGHTED) {
      float total = -0.0f;
      for (size_t q = 0; q < nov; q++) total += c[ov[q]].score;
      if (isfinite(total) && total > 0.0f) {
        for (int e = 0; e < 4; e++) {
          float s = -0.0f;
          for (size_t q = 0; q < nov; q++) s += c[ov[q]].b[e] * c[ov[q]].score;
          m.b[e] = s / total;
        }
        // Keypoints go into a fresh buffer: the best's own are still read.
        float *kp = nk ? malloc(sizeof(float) * 2 * nk) : NULL;
        if (nk && !kp) return (size_t)-1;
        for (size_t j = 0; j < 2 * nk; j++) {
          float s = -0.0f;
          for (size_t q = 0; q < nov; q++) s += c[ov[q]].kp[j] * c[ov[q]].score;
          kp[j] = s / total;
        }
        if (nk) memcpy(m.kp, kp, sizeof(float) * 2 * nk);
        free(kp);
      }
    }
    // `best` is the lowest index not yet kept and kept < best+1, so this
    // never overwrites a candidate still in the queue.
    c[kept++] = m;
  }
  return kept;
}

// ---------------------------------------------------------------- state

static bool configured;
static params_t P;
static anchor_t *A;
static size_t NA;
static char *label0;  // first label, or NULL
static size_t label0_len;

// ---------------------------------------------------------------- exports

typedef exports_lpdnn_processing_postprocess_processor_error_t perr_t;

// Every processor-error case carries a string at the same place.
static void set_err(perr_t *err, uint8_t tag) {
  err->tag = tag;
  postprocessor_string_dup(&err->val.invalid_params, errbuf);
}

bool exports_lpdnn_processing_postprocess_configure(exports_lpdnn_processing_postprocess_config_t *config,
                                                     perr_t *err) {
  params_t p;
  anchor_t *a = NULL;
  size_t na = 0;
  bool ok = params_parse((const char *)config->params.ptr, config->params.len, &p) &&
            anchors_generate(&p, &a, &na);
  if (ok) {
    params_free(&P);
    free(A);
    free(label0);
    P = p;
    A = a;
    NA = na;
    label0 = NULL;
    label0_len = 0;
    if (config->labels.len > 0) {
      postprocessor_string_t *l = &config->labels.ptr[0];
      label0 = malloc(l->len ? l->len : 1);
      if (label0) memcpy(label0, l->ptr, l->len), label0_len = l->len;
    }
    configured = true;
  } else {
    params_free(&p);
    set_err(err, LPDNN_PROCESSING_TYPES_PROCESSOR_ERROR_INVALID_PARAMS);
  }
  exports_lpdnn_processing_postprocess_config_free(config);
  return ok;
}

typedef struct {
  const postprocessor_string_t *name;
  const uint32_t *shape;
  size_t rank;
  const float *v;
  size_t len;
} output_t;

static void describe(char *buf, size_t cap, const output_t *o) {
  int k = snprintf(buf, cap, "[");
  for (size_t i = 0; i < o->rank && (size_t)k < cap; i++)
    k += snprintf(buf + k, cap - (size_t)k, "%s%u", i ? ", " : "", o->shape[i]);
  if ((size_t)k < cap) snprintf(buf + k, cap - (size_t)k, "]");
}

static const output_t *find(const output_t *outs, size_t n, const char *name, const char *what) {
  size_t len = strlen(name);
  for (size_t i = 0; i < n; i++)
    if (outs[i].name->len == len && memcmp(outs[i].name->ptr, name, len) == 0) return &outs[i];
  int k = snprintf(errbuf, sizeof errbuf, "params.%s names output '%s', but the model's outputs are [", what, name);
  for (size_t i = 0; i < n && (size_t)k < sizeof errbuf; i++)
    k += snprintf(errbuf + k, sizeof errbuf - (size_t)k, "%s\"%.*s\"", i ? ", " : "", (int)outs[i].name->len,
                  (const char *)outs[i].name->ptr);
  if ((size_t)k < sizeof errbuf) snprintf(errbuf + k, sizeof errbuf - (size_t)k, "]");
  return NULL;
}

// Decodes, sorts and suppresses; on success *found holds *nfound candidates
// (and *kpbuf their keypoints). Errors are invalid-tensor.
static bool detect(const output_t *outs, size_t nouts, cand_t **found, size_t *nfound, float **kpbuf) {
  const params_t *p = &P;
  size_t n = NA, n1 = n ? n : 1;
  const output_t *boxes = find(outs, nouts, p->boxes, "boxes");
  if (!boxes) return false;
  const output_t *scores = find(outs, nouts, p->scores, "scores");
  if (!scores) return false;
  char shp[128];
  size_t row = boxes->len / n1;
  if (boxes->len != row * n || row < 4) {
    describe(shp, sizeof shp, boxes);
    return fail("output '%.*s' %s does not hold 4+ values for each of %zu anchors", (int)boxes->name->len,
                (const char *)boxes->name->ptr, shp, n);
  }
  size_t classes = scores->len / n1;
  if (scores->len != classes * n || classes == 0) {
    describe(shp, sizeof shp, scores);
    return fail("output '%.*s' %s does not hold scores for each of %zu anchors", (int)scores->name->len,
                (const char *)scores->name->ptr, shp, n);
  }
  size_t nk = p->num_keypoints, kp_off = p->keypoint_offset;
  if (nk > 0 && kp_off + 2 * nk > row) return fail("%zu keypoints do not fit rows of %zu values", nk, row);
  float sx = p->scale[0], sy = p->scale[1], sw = p->scale[2], sh = p->scale[3];

  size_t cnt = 0;
  cand_t *c = malloc(sizeof(cand_t) * n1);
  float *kp = malloc(sizeof(float) * (2 * nk * n1 + 1));
  if (!c || !kp) return free(c), free(kp), fail("out of memory");
  for (size_t i = 0; i < n; i++) {
    float score;
    const float *sv = &scores->v[i * classes];
    if (p->score == SCORE_SIGMOID) {
      float s = sv[0];
      if (s < -p->score_clip) s = -p->score_clip;
      if (s > p->score_clip) s = p->score_clip;
      score = 1.0f / (1.0f + expf(-s));
    } else if (p->score == SCORE_RAW) {
      score = sv[0];
    } else {
      float max = -INFINITY, sum = -0.0f;
      for (size_t q = 0; q < classes; q++) max = fmaxf(max, sv[q]);
      for (size_t q = 0; q < classes; q++) sum += expf(sv[q] - max);
      score = p->score_class < classes ? expf(sv[p->score_class] - max) / sum : 0.0f;
    }
    if (isnan(score) || score < p->min_score) continue;
    const anchor_t *a = &A[i];
    const float *r = &boxes->v[i * row];
    float rx = r[0], ry = r[1], rw = r[2], rh = r[3];
    if (p->yxhw) rx = r[1], ry = r[0], rw = r[3], rh = r[2];
    float cx = a->x + rx / sx * a->w, cy = a->y + ry / sy * a->h;
    float w = rw / sw * a->w, h = rh / sh * a->h;
    cand_t *o = &c[cnt];
    o->b[0] = cx - w / 2.0f;
    o->b[1] = cy - h / 2.0f;
    o->b[2] = cx + w / 2.0f;
    o->b[3] = cy + h / 2.0f;
    o->score = score;
    o->kp = &kp[2 * nk * cnt];
    const float *k = &r[kp_off];
    for (size_t j = 0; j < nk; j++) {
      float kx = k[2 * j], ky = k[2 * j + 1];
      if (p->yxhw) kx = k[2 * j + 1], ky = k[2 * j];
      o->kp[2 * j] = a->x + kx / sx * a->w;
      o->kp[2 * j + 1] = a->y + ky / sy * a->h;
    }
    cnt++;
  }
  cand_t *tmp = malloc(sizeof(cand_t) * (cnt ? cnt : 1));
  size_t *idx = malloc(sizeof(size_t) * (cnt ? cnt : 1) * 2);
  if (!tmp || !idx) return free(c), free(kp), free(tmp), free(idx), fail("out of memory");
  sort_best_first(c, cnt, tmp);
  size_t kept = nms(p, c, cnt, idx, idx + cnt);
  free(tmp);
  free(idx);
  if (kept == (size_t)-1) return free(c), free(kp), fail("out of memory");
  if (kept > p->max_detections) kept = p->max_detections;
  *found = c;
  *nfound = kept;
  *kpbuf = kp;
  return true;
}

static float clampf(float v, float lo, float hi) {  // Rust's f32::clamp: NaN stays NaN
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  return v;
}

bool exports_lpdnn_processing_postprocess_process(exports_lpdnn_processing_postprocess_list_list_tensor_t *outputs,
                                                   exports_lpdnn_processing_postprocess_input_meta_t *meta,
                                                   exports_lpdnn_processing_postprocess_prediction_t *ret,
                                                   perr_t *err) {
  uint8_t etag = LPDNN_PROCESSING_TYPES_PROCESSOR_ERROR_INVALID_TENSOR;
  bool ok = false;
  output_t *outs = NULL;
  size_t nouts = 0;
  cand_t *c = NULL;
  float *kp = NULL;
  size_t nc = 0;
  if (outputs->len != 1) {
    fail("detection takes one image (one chunk), got %zu chunks", outputs->len);
    goto done;
  }
  if (!configured) {
    etag = LPDNN_PROCESSING_TYPES_PROCESSOR_ERROR_INTERNAL;
    fail("process called before configure");
    goto done;
  }
  if (meta->tag != LPDNN_PROCESSING_TYPES_INPUT_META_IMAGE) {
    fail("detection needs an image input");
    goto done;
  }
  exports_lpdnn_processing_postprocess_list_tensor_t *chunk = &outputs->ptr[0];
  outs = calloc(chunk->len ? chunk->len : 1, sizeof *outs);
  if (!outs) {
    etag = LPDNN_PROCESSING_TYPES_PROCESSOR_ERROR_INTERNAL;
    fail("out of memory");
    goto done;
  }
  for (size_t i = 0; i < chunk->len; i++) {
    lpdnn_processing_types_tensor_t *t = &chunk->ptr[i];
    if (t->dtype != LPDNN_PROCESSING_TYPES_DTYPE_F32) {
      fail("output '%.*s' must be f32", (int)t->name.len, (const char *)t->name.ptr);
      goto done;
    }
    // list<u8> comes 1-aligned in the canonical ABI: copy into floats
    // (wasm is little-endian, as the tensor bytes are).
    float *v = malloc(t->data.len ? t->data.len : 1);
    if (!v) {
      etag = LPDNN_PROCESSING_TYPES_PROCESSOR_ERROR_INTERNAL;
      fail("out of memory");
      goto done;
    }
    memcpy(v, t->data.ptr, t->data.len);
    outs[i] = (output_t){&t->name, t->shape.ptr, t->shape.len, v, t->data.len / 4};
    nouts = i + 1;
  }
  if (!detect(outs, chunk->len, &c, &nc, &kp)) goto done;

  lpdnn_processing_types_image_geometry_t *g = &meta->val.image;
  float tw = (float)g->tensor_width, th = (float)g->tensor_height;
  float W = (float)g->width, H = (float)g->height;
  size_t nk = P.num_keypoints;
  ret->tag = EXPORTS_LPDNN_PROCESSING_POSTPROCESS_PREDICTION_DETECTIONS;
  exports_lpdnn_processing_postprocess_list_detection_t *list = &ret->val.detections;
  list->len = nc;
  list->ptr = nc ? calloc(nc, sizeof *list->ptr) : NULL;
  if (nc && !list->ptr) {
    etag = LPDNN_PROCESSING_TYPES_PROCESSOR_ERROR_INTERNAL;
    fail("out of memory");
    goto done;
  }
  for (size_t i = 0; i < nc; i++) {
    exports_lpdnn_processing_postprocess_detection_t *d = &list->ptr[i];
    d->bounds.x0 = clampf(c[i].b[0] * tw * g->scale_x + g->offset_x, 0.0f, W);
    d->bounds.y0 = clampf(c[i].b[1] * th * g->scale_y + g->offset_y, 0.0f, H);
    d->bounds.x1 = clampf(c[i].b[2] * tw * g->scale_x + g->offset_x, 0.0f, W);
    d->bounds.y1 = clampf(c[i].b[3] * th * g->scale_y + g->offset_y, 0.0f, H);
    d->score = c[i].score;
    d->class_id = 0;
    d->label.is_some = label0 != NULL;
    if (label0) postprocessor_string_dup_n(&d->label.val, label0, label0_len);
    d->keypoints.len = nk;
    d->keypoints.ptr = nk ? malloc(sizeof *d->keypoints.ptr * nk) : NULL;
    for (size_t j = 0; j < nk; j++) {
      d->keypoints.ptr[j].x = clampf(c[i].kp[2 * j] * tw * g->scale_x + g->offset_x, 0.0f, W);
      d->keypoints.ptr[j].y = clampf(c[i].kp[2 * j + 1] * th * g->scale_y + g->offset_y, 0.0f, H);
    }
  }
  ok = true;
done:
  if (!ok) set_err(err, etag);
  for (size_t i = 0; i < nouts; i++) free((void *)outs[i].v);
  free(outs);
  free(c);
  free(kp);
  exports_lpdnn_processing_postprocess_list_list_tensor_free(outputs);
  exports_lpdnn_processing_postprocess_input_meta_free(meta);
  return ok;
}
