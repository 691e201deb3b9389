// A classification post-processor for lpdnn, in JavaScript.
//
// World: lpdnn:processing@0.2.0 `postprocessor` (export `postprocess`).
// Parameters (app.json `postprocessor.params`):
//   softmax (bool, default true)  apply softmax to the scores (logits in)
//   top_k   (usize, default 5)    how many classes to report, best first (>= 1)
//   output  (string, default "")  the model output to read; "" is the first
// Unknown fields are refused. Several chunks (a stream): the top classes of
// the mean of the per-chunk scores (after softmax, when enabled).
//
// All score arithmetic is IEEE single precision, as the reference does it:
// every f32 operation is a double operation followed by Math.fround (exact
// for +, -, *, / of two f32 values).

const f32 = Math.fround;

// ---------------------------------------------------------------- errors
// A thrown plain object becomes the `err` of the export's result
// (componentize-js: anything without `payload` that is not an Error).
function fail(tag, message) {
  throw { tag, val: message };
}

// --------------------------------------------------------------- params
// A small JSON reader over the UTF-8 bytes of the params text that reports
// errors the way serde_json does (same words, `at line L column C` with C
// counted in bytes), so that a bad parameter reads the same as with the
// reference component.

const FIELDS = ['softmax', 'top_k', 'output'];
const USIZE_MAX = 0xffffffff; // wasm32

class ParamsReader {
  constructor(text) {
    this.b = new TextEncoder().encode(text);
    this.text = text;
    this.i = 0;
  }
  position(i) {
    let start = 0;
    let line = 1;
    for (let k = 0; k < i; k++) {
      if (this.b[k] === 0x0a) {
        line++;
        start = k + 1;
      }
    }
    return `line ${line} column ${i - start}`;
  }
  err(msg, at = this.i) {
    return fail('invalid-params', `${msg} at ${this.position(at)}`);
  }
  peekErr(msg) {
    return this.err(msg, Math.min(this.b.length, this.i + 1));
  }
  ws() {
    while (this.i < this.b.length) {
      const c = this.b[this.i];
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
    return this.i < this.b.length ? this.b[this.i] : -1;
  }
  ident(word, what) {
    for (const ch of word) {
      if (this.i >= this.b.length) this.err('EOF while parsing a value');
      if (this.b[this.i] !== ch.charCodeAt(0)) this.err('expected ident', this.i + 1);
      this.i++;
    }
    return what;
  }
  string() {
    // at the opening quote
    this.i++;
    const start = this.i;
    let out = '';
    let run = start;
    for (;;) {
      if (this.i >= this.b.length) this.err('EOF while parsing a string');
      const c = this.b[this.i];
      if (c === 0x22) {
        out += new TextDecoder().decode(this.b.subarray(run, this.i));
        this.i++;
        return out;
      }
      if (c === 0x5c) {
        out += new TextDecoder().decode(this.b.subarray(run, this.i));
        this.i++;
        const e = this.b[this.i++];
        const simple = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };
        if (e in simple) out += simple[e];
        else if (e === 0x75) {
          const hex = String.fromCharCode(...this.b.subarray(this.i, this.i + 4));
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.err('invalid escape', this.i + 1);
          this.i += 4;
          out += String.fromCharCode(parseInt(hex, 16));
        } else this.err('invalid escape');
        run = this.i;
        continue;
      }
      if (c < 0x20) this.err('control character (\\u0000-\\u001F) found while parsing a string', this.i + 1);
      this.i++;
    }
  }
  // A number as serde_json (default features) parses it:
  // {kind: 'u64'|'i64'|'f64', value}. Floats are built its way: the
  // decimal significand as a u64 (digits past 19 or 20 dropped) times or
  // divided by a power of ten, which is not always correctly rounded.
  number() {
    const neg = this.b[this.i] === 0x2d;
    if (neg) this.i++;
    const digit = () => {
      const c = this.i < this.b.length ? this.b[this.i] : -1;
      return c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
    };
    const U64_MAX = 0xffffffffffffffffn;
    const overflows = (sig, d) => sig >= U64_MAX / 10n && (sig > U64_MAX / 10n || BigInt(d) > U64_MAX % 10n);
    let sig = 0n;
    let exp = 0;
    let isFloat = false;
    let d = digit();
    if (d < 0) this.err('invalid number');
    if (d === 0) {
      this.i++;
      if (digit() >= 0) this.err('invalid number', this.i + 1);
    } else {
      while ((d = digit()) >= 0) {
        if (isFloat || overflows(sig, d)) {
          isFloat = true;
          exp++;
        } else sig = sig * 10n + BigInt(d);
        this.i++;
      }
    }
    if (this.b[this.i] === 0x2e) {
      isFloat = true;
      this.i++;
      let fraction = 0;
      let dropping = false;
      while ((d = digit()) >= 0) {
        if (!dropping && overflows(sig, d)) dropping = true;
        if (!dropping) {
          sig = sig * 10n + BigInt(d);
          exp--;
        }
        fraction++;
        this.i++;
      }
      if (fraction === 0) this.err('invalid number', this.i + 1);
    }
    if (this.b[this.i] === 0x65 || this.b[this.i] === 0x45) {
      isFloat = true;
      this.i++;
      let expNeg = false;
      if (this.b[this.i] === 0x2b || this.b[this.i] === 0x2d) expNeg = this.b[this.i++] === 0x2d;
      if (digit() < 0) this.err('invalid number', this.i + 1);
      let e = 0;
      while ((d = digit()) >= 0) {
        e = Math.min(e * 10 + d, 0x7fffffff);
        this.i++;
      }
      exp = expNeg ? Math.max(exp - e, -0x80000000) : Math.min(exp + e, 0x7fffffff);
    }
    if (!isFloat) {
      if (!neg) return { kind: 'u64', value: sig };
      if (sig === 0n) return { kind: 'f64', value: -0 };
      if (sig <= 0x8000000000000000n) return { kind: 'i64', value: -sig };
      return { kind: 'f64', value: -Number(sig) };
    }
    let f = Number(sig);
    for (;;) {
      const e = Math.abs(exp);
      if (e <= 308) {
        const pow = Number(`1e${e}`);
        if (exp >= 0) {
          f *= pow;
          if (!Number.isFinite(f)) this.err('number out of range');
        } else f /= pow;
        break;
      }
      if (f === 0) break;
      if (exp >= 0) this.err('number out of range');
      f /= 1e308;
      exp += 308;
    }
    return { kind: 'f64', value: neg ? -f : f };
  }
  // serde's `Unexpected` wording for the value at the cursor; consumes it
  // except for `[` and `{`.
  unexpected() {
    const c = this.b[this.i];
    if (c === 0x6e) return this.ident('null', 'null');
    if (c === 0x74) return this.ident('true', 'boolean `true`');
    if (c === 0x66) return this.ident('false', 'boolean `false`');
    if (c === 0x22) return `string ${rustDebugStr(this.string())}`;
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const n = this.number();
      return n.kind === 'f64' ? `floating point \`${rustFloat(n.value)}\`` : `integer \`${n.value}\``;
    }
    if (c === 0x5b) return 'sequence';
    if (c === 0x7b) return 'map';
    return this.peekErr('expected value');
  }
  invalidType(expected) {
    if (this.ws() < 0) this.err('EOF while parsing a value');
    const what = this.unexpected();
    this.err(what === 'null' ? `invalid type: null, expected ${expected}` : `invalid type: ${what}, expected ${expected}`);
  }
  bool() {
    const c = this.ws();
    if (c === 0x74) return (this.ident('true'), true);
    if (c === 0x66) return (this.ident('false'), false);
    return this.invalidType('a boolean');
  }
  str() {
    if (this.ws() === 0x22) return this.string();
    return this.invalidType('a string');
  }
  usize() {
    const c = this.ws();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const n = this.number();
      if (n.kind === 'f64') this.err(`invalid type: floating point \`${rustFloat(n.value)}\`, expected usize`);
      if (n.value < 0n || n.value > BigInt(USIZE_MAX)) this.err(`invalid value: integer \`${n.value}\`, expected usize`);
      return Number(n.value);
    }
    return this.invalidType('usize');
  }
  params() {
    const p = { softmax: true, top_k: 5, output: '' };
    const c = this.ws();
    if (c !== 0x7b) {
      if (c < 0) this.err('EOF while parsing a value');
      this.invalidType('struct Params');
    }
    this.i++;
    const seen = new Set();
    let first = true;
    for (;;) {
      let d = this.ws();
      if (d === 0x7d) {
        this.i++;
        break;
      }
      if (!first) {
        if (d !== 0x2c) this.peekErr('expected `,` or `}`');
        this.i++;
        d = this.ws();
      }
      first = false;
      if (d !== 0x22) this.peekErr(d < 0 ? 'EOF while parsing an object' : 'key must be a string');
      const key = this.string();
      // serde_json places these errors after the whitespace that follows
      // the key (it looks for the closing brace before it reports them).
      this.ws();
      if (!FIELDS.includes(key)) {
        this.err(`unknown field \`${key}\`, expected one of ${FIELDS.map((f) => `\`${f}\``).join(', ')}`);
      }
      if (seen.has(key)) this.err(`duplicate field \`${key}\``);
      seen.add(key);
      if (this.ws() !== 0x3a) this.peekErr('expected `:`');
      this.i++;
      if (key === 'softmax') p.softmax = this.bool();
      else if (key === 'top_k') p.top_k = this.usize();
      else p.output = this.str();
    }
    if (this.ws() >= 0) this.peekErr('trailing characters');
    return p;
  }
}

// Rust's `{:?}` of a str, for the characters params plausibly hold.
function rustDebugStr(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c === 0) out += '\\0';
    else if (c < 0x20 || c === 0x7f) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return out + '"';
}

// serde_json's wording of a float in an error: shortest round-trip digits,
// plain between 1e-5 and 1e16 (".0" on whole numbers), else d.ddde+X.
function rustFloat(v) {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  if (v === 0) return `${sign}0.0`;
  const [mant, expPart] = Math.abs(v).toExponential().split('e');
  const digits = mant.replace('.', '');
  const exp = Number(expPart);
  const kk = exp + 1;
  let s;
  if (kk > 16 || kk <= -5) {
    s = (digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`) + `e${exp < 0 ? '-' : '+'}${Math.abs(exp)}`;
  } else if (kk >= digits.length) s = `${digits}${'0'.repeat(kk - digits.length)}.0`;
  else if (kk > 0) s = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  else s = `0.${'0'.repeat(-kk)}${digits}`;
  return sign + s;
}

// Rust's `Display` of an f32 (for the non-finite score message).
function rustF32Display(v) {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return String(v);
}

function parseParams(text) {
  const p = new ParamsReader(text).params();
  if (p.top_k === 0) fail('invalid-params', 'top_k must be at least 1');
  return p;
}

// --------------------------------------------------------------- tensors
const DTYPE_SIZE = { f32: 4, f16: 2, u8: 1, i8: 1, i32: 4, i64: 8 };
// wit-bindgen's Debug of the `dtype` enum, as the reference prints it.
const DTYPE_DEBUG = { f32: 'F32', f16: 'F16', u8: 'U8', i8: 'I8', i32: 'I32', i64: 'I64' };

function rustDebugList(items, fmt) {
  return `[${items.map(fmt).join(', ')}]`;
}

function find(tensors, name) {
  const found = name === '' ? tensors[0] : tensors.find((t) => t.name === name);
  if (found === undefined) {
    const names = rustDebugList(tensors.map((t) => t.name), rustDebugStr);
    fail('invalid-tensor', `no output named '${name}' (the model gave ${names})`);
  }
  return found;
}

// The tensor's elements as f32 values (JS numbers), checking dtype and
// length (`data` is a Uint8Array of packed little-endian f32).
function toF32(t) {
  if (t.dtype !== 'f32') {
    fail('invalid-tensor', `tensor '${t.name}' is ${DTYPE_DEBUG[t.dtype] ?? t.dtype}, expected f32`);
  }
  const shape = Array.from(t.shape);
  const len = shape.reduce((a, d) => a * d, 1);
  if (t.data.length !== len * 4) {
    fail('invalid-tensor', `tensor '${t.name}' has ${t.data.length} bytes for shape ${rustDebugList(shape, String)}`);
  }
  // `data` may start at any byte offset; a Float32Array view needs 4-byte
  // alignment, so copy first when it is not aligned (wasm is little-endian,
  // as the packed data is).
  const aligned = t.data.byteOffset % 4 === 0 ? t.data : t.data.slice();
  const out = new Float64Array(new Float32Array(aligned.buffer, aligned.byteOffset, len));
  return out;
}

// ----------------------------------------------------------------- maths
// expf, bit for bit as the reference computes it. The Rust component's
// f32::exp is wasi-libc's expf, i.e. musl's (ARM optimized-routines,
// MIT): exp(x) = 2^(k/32) * 2^(r/32), a 32-entry table and a cubic, all in
// double, rounded once to f32. JS doubles are the same IEEE doubles and
// wasm has no fused multiply-add, so the same operations in the same order
// give the same bits. (Math.fround(Math.exp(x)) is correctly rounded and so
// differs from musl's expf in the last bit now and then.)
// One 8-byte scratch buffer seen as f64, f32, u32 and i32 (wasm is
// little-endian: u32[0] is the low word).
const scratch = new ArrayBuffer(8);
const sF64 = new Float64Array(scratch);
const sF32 = new Float32Array(scratch);
const sU32 = new Uint32Array(scratch);
const sI32 = new Int32Array(scratch);
function f64FromWords(hi, lo) {
  sU32[0] = lo;
  sU32[1] = hi;
  return sF64[0];
}
// musl src/math/exp2f_data.c: tab[i] = uint(2^(i/32)) - (i << 52)/32, as
// [high word, low word] pairs.
const EXP2F_TAB = new Uint32Array([
  0x3ff00000, 0x00000000, 0x3fefd9b0, 0xd3158574, 0x3fefb558, 0x6cf9890f, 0x3fef9301, 0xd0125b51,
  0x3fef72b8, 0x3c7d517b, 0x3fef5487, 0x3168b9aa, 0x3fef387a, 0x6e756238, 0x3fef1e9d, 0xf51fdee1,
  0x3fef06fe, 0x0a31b715, 0x3feef1a7, 0x373aa9cb, 0x3feedea6, 0x4c123422, 0x3feece08, 0x6061892d,
  0x3feebfda, 0xd5362a27, 0x3feeb42b, 0x569d4f82, 0x3feeab07, 0xdd485429, 0x3feea47e, 0xb03a5585,
  0x3feea09e, 0x667f3bcd, 0x3fee9f75, 0xe8ec5f74, 0x3feea114, 0x73eb0187, 0x3feea589, 0x994cce13,
  0x3feeace5, 0x422aa0db, 0x3feeb737, 0xb0cdc5e5, 0x3feec491, 0x82a3f090, 0x3feed503, 0xb23e255d,
  0x3feee89f, 0x995ad3ad, 0x3feeff76, 0xf2fb5e47, 0x3fef199b, 0xdd85529c, 0x3fef3720, 0xdcef9069,
  0x3fef5818, 0xdcfba487, 0x3fef7c97, 0x337b9b5f, 0x3fefa4af, 0xa2a490da, 0x3fefd076, 0x5b6e4540,
]);
const EXPF_SHIFT = f64FromWords(0x43380000, 0x00000000); // 0x1.8p52
const EXPF_INVLN2N = f64FromWords(0x40471547, 0x652b82fe); // 32/ln2
const EXPF_C0 = f64FromWords(0x3ebc6af8, 0x4b912394);
const EXPF_C1 = f64FromWords(0x3f2ebfce, 0x50fac4f3);
const EXPF_C2 = f64FromWords(0x3f962e42, 0xff0c52d6);
const F32_LN_MAX = f32(88.72283172607421875); // 0x1.62e42ep6f
const F32_LN_MIN = f32(-103.97207641601562); // -0x1.9fe368p6f
// musl forms s = 2^(k/32) by adding k << 47 to tab[k % 32]'s bits, i.e.
// TWO_J32[k & 31] * 2^(k >> 5) with TWO_J32[j] = tab[j] + (j << 47), exact
// while s is a normal double (here: |x| < 104, s >= 2^-151).
const TWO_J32 = new Float64Array(32);
for (let j = 0; j < 32; j++) TWO_J32[j] = f64FromWords((EXP2F_TAB[2 * j] + (j << 15)) >>> 0, EXP2F_TAB[2 * j + 1]);
const POW2_BIAS = 160;
const POW2 = new Float64Array(2 * POW2_BIAS);
for (let m = -POW2_BIAS; m < POW2_BIAS; m++) POW2[m + POW2_BIAS] = f64FromWords(((m + 1023) << 20) >>> 0, 0);

// expf(x) for an f32 x: musl's algorithm, in doubles, rounded once.
function expf(x) {
  if (!(Math.abs(x) < 88)) {
    // |x| >= 88 or x is NaN
    if (x === -Infinity) return 0;
    if (!Number.isFinite(x)) return f32(x + x);
    if (x > F32_LN_MAX) return Infinity;
    if (x < F32_LN_MIN) return 0;
  }
  const z = EXPF_INVLN2N * x;
  const kd = z + EXPF_SHIFT - EXPF_SHIFT; // round(z), ties to even
  const r = z - kd;
  const k = kd | 0;
  const s = TWO_J32[k & 31] * POW2[(k >> 5) + POW2_BIAS];
  const zz = EXPF_C0 * r + EXPF_C1;
  const r2 = r * r;
  let y = EXPF_C2 * r + 1;
  y = zz * r2 + y;
  y = y * s;
  return f32(y);
}

// Numerically stable softmax, all in f32: max-subtracted, expf, sequential
// sum, divide. A store into a Float32Array rounds to f32 as Math.fround
// does; the hot loop has expf inlined (SpiderMonkey runs it interpreted).
function softmax(x) {
  const n = x.length;
  let max = -Infinity;
  for (let k = 0; k < n; k++) if (x[k] > max) max = x[k];
  const e = new Float32Array(n);
  const sum = new Float32Array(1);
  for (let k = 0; k < n; k++) {
    e[k] = x[k] - max;
    const v = e[k];
    if (Math.abs(v) < 88) {
      const z = EXPF_INVLN2N * v;
      const kd = z + EXPF_SHIFT - EXPF_SHIFT;
      const r = z - kd;
      const ki = kd | 0;
      e[k] = ((EXPF_C0 * r + EXPF_C1) * (r * r) + (EXPF_C2 * r + 1)) * (TWO_J32[ki & 31] * POW2[(ki >> 5) + POW2_BIAS]);
    } else e[k] = expf(v);
    sum[0] += e[k];
  }
  const total = sum[0];
  for (let k = 0; k < n; k++) e[k] /= total;
  return e;
}

// f32::total_cmp as an integer key.
function totalKey(v) {
  sF32[0] = v;
  const bits = sI32[0];
  return bits ^ ((bits >> 31) >>> 1);
}

// The top_k best (id, score) pairs, best first; ties: the lower id first
// (the order of total_cmp, then id). Up to 2^21 scores the order is one
// native numeric sort of (-key * 2^21 + id), exact in a double.
function topK(scores, p) {
  const s = p.softmax ? softmax(scores) : scores;
  const n = s.length;
  const k = Math.min(p.top_k, n);
  let ids;
  if (n <= 1 << 21) {
    const packed = new Float64Array(n);
    const f = new Float32Array(s);
    const bits = new Int32Array(f.buffer);
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      packed[i] = -(b ^ ((b >> 31) >>> 1)) * 2097152 + i;
    }
    packed.sort();
    ids = Array.from(packed.subarray(0, k), (v) => v - Math.floor(v / 2097152) * 2097152);
  } else {
    const keys = new Int32Array(n);
    for (let i = 0; i < n; i++) keys[i] = totalKey(s[i]);
    ids = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[b] - keys[a] || a - b).slice(0, k);
  }
  return ids.map((i) => [i, s[i]]);
}

// ------------------------------------------------------------- the world
let state = null;

export const postprocess = {
  configure(config) {
    state = { p: parseParams(config.params), labels: Array.from(config.labels) };
  },

  process(outputs, _meta) {
    if (state === null) fail('internal', 'process called before configure');
    const { p, labels } = state;
    const perChunk = outputs.map((chunk) => toF32(find(chunk, p.output)));
    perChunk.forEach((scores, i) => {
      const bad = scores.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) {
        fail('invalid-tensor', `chunk ${i}: the model's score for class ${bad} is ${rustF32Display(scores[bad])}`);
      }
    });
    let scores;
    let q = p;
    if (perChunk.length === 0) fail('invalid-tensor', 'no outputs');
    if (perChunk.length === 1) scores = perChunk[0];
    else {
      const n = f32(perChunk.length);
      const mean = new Float64Array(perChunk[0].length);
      for (const chunk of perChunk) {
        const s = p.softmax ? softmax(chunk) : chunk;
        if (s.length !== mean.length) fail('invalid-tensor', 'chunks gave scores of different lengths');
        for (let k = 0; k < mean.length; k++) mean[k] = f32(mean[k] + f32(s[k] / n));
      }
      scores = mean;
      q = { ...p, softmax: false };
    }
    if (labels.length !== 0 && labels.length !== scores.length) {
      fail('invalid-tensor', `the model gives ${scores.length} scores but the app has ${labels.length} labels`);
    }
    return {
      tag: 'classes',
      val: topK(scores, q).map(([id, score]) => ({
        id,
        label: id < labels.length ? labels[id] : undefined,
        score,
      })),
    };
  },
};
