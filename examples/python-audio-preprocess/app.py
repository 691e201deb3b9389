"""An audio pre-processor component in pure Python (componentize-py).

It stands in for lpdnn's `audio_preprocess.wasm` in waveform mode, as the
voice-activity app uses it: WAV decode (the same checks and messages as the
Rust component, which decodes with the `hound` crate), channels mixed to mono,
integer PCM scaled by 1 / 2^(bits-1), cut into chunks with left context, f32
tensors. Other rates are resampled to `sr` with the Rust component's polyphase filter
(scipy's `resample_poly` defaults), ported operation for operation so that the
result is bit-identical.

Only the standard library is used (struct, array, json, decimal, math,
functools, operator).
"""

import json
import math
import operator
import struct
from array import array
from decimal import Decimal
from functools import reduce

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    AudioMeta,
    Config,
    Dtype,
    InputMeta_Audio,
    Preprocessed,
    ProcessorError_InvalidInput,
    ProcessorError_InvalidParams,
    Tensor,
)

U32_MAX = (1 << 32) - 1  # usize and u32 on wasm32
MAX_CHUNK = 1 << 22  # most samples in one chunk, or zeros before the first
MAX_CHUNKED = 1 << 24  # most values all the chunks of one input hold together

# Every field the Rust component knows, in its order (serde lists them so).
RUST_FIELDS = (
    "sr", "resample", "max_seconds", "preemphasis", "features", "n_fft",
    "hop_length", "win_length", "window", "center", "pad_mode", "power",
    "n_mels", "fmin", "fmax", "htk", "norm", "ref", "amin", "top_db",
    "n_mfcc", "dct_type", "lifter", "deltas", "delta_width", "normalize",
    "chunk_length", "chunk_hop", "pad_start", "pad_end", "input", "layout",
)
FEATURES = ("waveform", "spectrogram", "melspectrogram", "log_mel", "mfcc")


class ParamsError(Exception):
    pass


class InputError(Exception):
    pass


# ---------------------------------------------------------------- parameters

def _unexpected(v):
    """How serde names a JSON value in an `invalid type` message."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean `%s`" % ("true" if v else "false")
    if isinstance(v, int):
        if -(1 << 63) <= v <= (1 << 64) - 1:
            return "integer `%d`" % v
        v = float(v)  # serde_json reads bigger numbers as f64
    if isinstance(v, float):
        return "floating point `%s`" % _rust_float(v, debug=True)
    if isinstance(v, str):
        return "string %s" % json.dumps(v, ensure_ascii=False)
    if isinstance(v, _Object):
        return "map"
    return "sequence"


def _rust_float(x, debug=False):
    """Rust's `{}` (Display) of an f64: shortest round-trip digits, no exponent;
    `{:?}` adds `.0` to integral values."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = format(Decimal(repr(x)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if debug and "." not in text:
        text += ".0"
    return text


def _uint(name, v, bits, what):
    if isinstance(v, bool) or not isinstance(v, int) or v > (1 << 64) - 1 or v < -(1 << 63):
        raise ParamsError("invalid type: %s, expected %s" % (_unexpected(v), what))
    if v < 0 or v >= 1 << bits:
        raise ParamsError("invalid value: integer `%d`, expected %s" % (v, what))
    return v


def _bool(name, v):
    if not isinstance(v, bool):
        raise ParamsError("invalid type: %s, expected a boolean" % _unexpected(v))
    return v


def _string(name, v):
    if not isinstance(v, str):
        raise ParamsError("invalid type: %s, expected a string" % _unexpected(v))
    return v


def _f64(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ParamsError("invalid type: %s, expected f64" % _unexpected(v))
    return float(v)


def _variant(v):
    """serde_json's externally tagged unit enum: "name" or {"name": null}."""
    if isinstance(v, _Object):
        if len(v) != 1:
            raise ParamsError("expected value")
        name, content = v[0]
        if name in FEATURES and content is not None:
            raise ParamsError("invalid type: %s, expected unit" % _unexpected(content))
        v = name
    elif not isinstance(v, str):
        raise ParamsError("expected value")
    if v not in FEATURES:
        raise ParamsError(
            "unknown variant `%s`, expected one of %s"
            % (v, ", ".join("`%s`" % f for f in FEATURES)))
    return v


def _no_constant(name):
    raise ParamsError("expected value: `%s` is not JSON" % name)


class _Object(list):
    """A JSON object as its (key, value) pairs: duplicates and order kept."""


def _pairs(pairs):
    return _Object(pairs)


class Params:
    """The parameters, parsed as the Rust component's serde derive parses them
    (deny_unknown_fields, no duplicates, strict types), then checked as its
    `Pipeline::new` checks them."""

    def __init__(self, text):
        try:
            pairs = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
        except ValueError as e:
            raise ParamsError(str(e))
        if not isinstance(pairs, _Object):
            raise ParamsError("invalid type: %s, expected struct Params" % _unexpected(pairs))
        self.sr = 22050
        self.resample = True
        self.max_seconds = 600.0
        self.features = "mfcc"
        self.chunk_length = 0
        self.chunk_hop = None
        self.pad_start = 0
        self.pad_end = True
        self.input = ""
        self.layout = None
        seen = set()
        for key, v in pairs:
            if key not in RUST_FIELDS:
                raise ParamsError(
                    "unknown field `%s`, expected one of %s"
                    % (key, ", ".join("`%s`" % f for f in RUST_FIELDS))
                )
            if key in seen:
                raise ParamsError("duplicate field `%s`" % key)
            seen.add(key)
            if key == "sr":
                self.sr = _uint(key, v, 32, "u32")
            elif key == "resample":
                self.resample = _bool(key, v)
            elif key == "max_seconds":
                self.max_seconds = _f64(key, v)
            elif key == "features":
                self.features = _variant(v)
            elif key == "chunk_length":
                self.chunk_length = _uint(key, v, 32, "usize")
            elif key == "chunk_hop":
                self.chunk_hop = None if v is None else _uint(key, v, 32, "usize")
            elif key == "pad_start":
                self.pad_start = _uint(key, v, 32, "usize")
            elif key == "pad_end":
                self.pad_end = _bool(key, v)
            elif key == "input":
                self.input = _string(key, v)
            elif key == "layout":
                self.layout = None if v is None else _string(key, v)
            else:
                raise ParamsError(
                    "`%s` is not supported by this component: it implements "
                    "features \"waveform\" with sr, resample, max_seconds, chunk_length, "
                    "chunk_hop, pad_start, pad_end, input and layout only" % key)
        # Pipeline::new's checks, in its order.
        if self.sr == 0:
            raise ParamsError("sr must be positive")
        if math.isnan(self.max_seconds) or self.max_seconds <= 0.0:
            raise ParamsError("max_seconds must be positive")
        if self.features != "waveform":
            raise ParamsError(
                "features '%s' is not supported by this component (waveform only)"
                % self.features)
        self.hop = 0
        if self.chunk_length != 0:
            n = self.chunk_length
            self.hop = n if self.chunk_hop is None else self.chunk_hop
            if self.hop == 0:
                raise ParamsError("chunk_length and chunk_hop must be at least 1")
            if n > MAX_CHUNK or self.pad_start > MAX_CHUNK:
                raise ParamsError(
                    "chunk_length (%d) and pad_start (%d) must be at most %d"
                    % (n, self.pad_start, MAX_CHUNK))
        layout = "bt" if self.layout is None else self.layout
        valid = (
            all(c in "bcft" for c in layout)
            and layout.count("t") == 1
            and layout.count("b") <= 1
            and layout.count("c") <= 1
            and layout.count("f") == 0
        )
        if not valid:
            raise ParamsError(
                "layout '%s' must name each axis once from b, c, f, t, with t always "
                "and f only for features (not a waveform)" % layout)
        self.axes = layout


# ---------------------------------------------------------------- WAV decode

_PCM_GUID = bytes([0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                   0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71])
_FLOAT_GUID = bytes([0x03]) + _PCM_GUID[1:]
_TRUNCATED_HEADER = "truncated WAV: the file ends inside its header"
_UNSUPPORTED = ("unsupported WAV encoding (e.g. compressed, A-law, \u00b5-law or 64-bit "
                "float); use PCM 8/16/24/32-bit or 32-bit float")


class _Reader:
    """A cursor over the bytes; running off the end is a truncated header."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        end = self.pos + n
        if end > len(self.data):
            self.pos = len(self.data)
            raise InputError(_TRUNCATED_HEADER)
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def u16(self):
        return struct.unpack("<H", self.take(2))[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]


def _bad(reason):
    return InputError("not a valid WAV file: " + reason)


def _read_fmt(r, chunk_len):
    """hound's read_fmt_chunk: returns (channels, rate, bits, float?, bytes per sample)."""
    if chunk_len < 16:
        raise _bad("invalid fmt chunk size")
    tag, channels, rate, byte_rate, block_align, bits = struct.unpack("<HHIIHH", r.take(16))
    if channels == 0:
        raise _bad("file contains zero channels")
    bytes_per_sample = block_align // channels
    if bytes_per_sample * 8 > 0xFFFF or bits > bytes_per_sample * 8:
        raise _bad("sample bits exceeds size of sample")
    if block_align * rate > U32_MAX or byte_rate != block_align * rate:
        raise _bad("inconsistent fmt chunk")
    if bits % 8 != 0:
        raise _bad("bits per sample is not a multiple of 8")
    if bits == 0:
        raise _bad("bits per sample is 0")
    is_float = False
    if tag == 0x0001:  # PCM
        if chunk_len not in (16, 18, 40):
            raise _bad("unexpected fmt chunk size")
        if chunk_len != 16:
            r.u16()  # cbSize, ignored for PCM
            if bits not in (8, 16, 24):
                raise _bad("bits per sample is not 8 or 16")
        if chunk_len == 40:
            r.take(22)
    elif tag == 0x0003:  # IEEE float
        if chunk_len not in (16, 18):
            raise _bad("unexpected fmt chunk size")
        if chunk_len == 18 and r.u16() != 0:
            raise _bad("unexpected WAVEFORMATEX size")
        if bits != 32:
            raise _bad("bits per sample is not 32")
        is_float = True
    elif tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE
        if chunk_len < 40:
            raise _bad("unexpected fmt chunk size")
        if r.u16() != 22:
            raise _bad("unexpected WAVEFORMATEXTENSIBLE size")
        valid_bits = r.u16()
        r.u32()  # channel mask
        sub = r.take(16)
        if sub == _PCM_GUID:
            is_float = False
        elif sub == _FLOAT_GUID:
            is_float = True
        else:
            raise InputError(_UNSUPPORTED)
        if valid_bits > 0:
            bits = valid_bits
    else:  # ADPCM and everything else
        raise InputError(_UNSUPPORTED)
    return channels, rate, bits, is_float, bytes_per_sample


def decode_wav(data, max_samples):
    """The Rust component's `wav::decode`: returns (rate, channels, mono samples
    as Python floats, i.e. f64)."""
    r = _Reader(data)
    if r.take(4) != b"RIFF":
        raise _bad("no RIFF tag found")
    r.u32()
    if r.take(4) != b"WAVE":
        raise _bad("no WAVE tag found")
    fmt = None
    while True:
        kind = r.take(4)
        length = r.u32()
        if kind == b"fmt ":
            fmt = _read_fmt(r, length)
        elif kind == b"fact":
            r.pos = min(r.pos + 4, len(data))  # hound reads 4 bytes, ignoring errors
        elif kind == b"data":
            if fmt is None:
                raise _bad("missing fmt chunk")
            break
        else:
            r.take(length)  # hound skips unknown chunks (no pad byte)
    channels, rate, bits, is_float, width = fmt
    declared = length // width
    if declared * width != length:
        raise _bad("data chunk length is not a multiple of sample size")
    if declared % channels != 0:
        raise _bad("invalid data chunk length")
    if rate == 0:
        raise InputError("WAV header declares a sample rate of 0 Hz")
    if declared == 0:
        raise InputError("zero-length audio: the WAV data chunk holds no sample")
    if declared > max_samples:
        raise InputError(
            "the WAV file holds %d samples, over the limit of %d" % (declared, max_samples))
    if is_float:
        if bits != 32:
            raise InputError(
                "unsupported WAV encoding: %d-bit float; use PCM 8/16/24/32-bit or 32-bit float"
                % bits)
        ok = width == 4
    else:
        if bits not in (8, 16, 24, 32):
            raise InputError(
                "unsupported WAV encoding: %d-bit integer PCM; use PCM 8/16/24/32-bit or "
                "32-bit float" % bits)
        ok = (width, bits) in ((1, 8), (2, 16), (3, 24), (4, 24), (4, 32))
    if not ok:  # hound's Sample::read refuses on the first sample
        if width > 4:
            raise InputError(
                "cannot decode the WAV file: The sample has more bits than the destination type.")
        raise InputError(_UNSUPPORTED)
    start = r.pos
    held = min(declared, (len(data) - start) // width)
    if held < declared:
        raise InputError(
            "truncated WAV: the header declares %d samples, the file holds %d" % (declared, held))
    raw = data[start:start + held * width]
    if is_float:
        ints = array("f")
        ints.frombytes(raw)
        scale = None
    elif width == 1:
        ints = [b - 128 for b in raw]
    elif width == 2:
        ints = array("h")
        ints.frombytes(raw)
    elif width == 3:
        ints = [
            ((raw[i] | raw[i + 1] << 8 | raw[i + 2] << 16) ^ 0x800000) - 0x800000
            for i in range(0, len(raw), 3)
        ]
    else:
        ints = array("i")
        ints.frombytes(raw)
        if bits == 24:
            ints = [((v & 0xFFFFFF) ^ 0x800000) - 0x800000 for v in ints]
    if array("h", [1]).tobytes() != b"\x01\x00":  # wasm32 is little-endian; be sure
        if isinstance(ints, array):
            ints.byteswap()
    if not is_float:
        scale = 1.0 / float(1 << (bits - 1))
        values = [v * scale for v in ints]
    else:
        values = list(ints)
    if channels == 1:
        # Rust: frame.iter().sum::<f64>() / 1.0, and the sum starts at -0.0,
        # so each sample is itself.
        samples = values
    else:
        c = float(channels)
        frames = [values[k::channels] for k in range(channels)]
        acc = frames[0]
        for other in frames[1:]:
            acc = [a + b for a, b in zip(acc, other)]
        samples = [s / c for s in acc]
    return rate, channels, samples


# ---------------------------------------------------------------- resampling
#
# dsp::resample, ported operation for operation. Sums run left to right from
# -0.0 (Rust's `Iterator::sum` for f64); the built-in `sum` would not do:
# since Python 3.12 it compensates rounding errors.

def _fsum_seq(values):
    return reduce(operator.add, values, -0.0)


def _sinc(x):
    if x == 0.0:
        return 1.0
    px = math.pi * x
    return math.sin(px) / px


def _bessel_i0(x):
    q = x * x / 4.0
    term, total, k = 1.0, 1.0, 1.0
    while True:
        term *= q / (k * k)
        total += term
        if term < total * 1e-17:
            return total
        k += 1.0


def _kaiser(n, beta):
    """window::get("kaiser", n, periodic=false, beta)."""
    if n == 1:
        return [1.0]
    alpha = (n - 1) / 2.0
    i0b = _bessel_i0(beta)
    out = []
    for i in range(n):
        r = (float(i) - alpha) / alpha
        out.append(_bessel_i0(beta * math.sqrt(max(1.0 - r * r, 0.0))) / i0b)
    return out


def _firwin_lowpass(numtaps, cutoff, beta):
    """firwin(numtaps, [cutoff], "kaiser", beta, pass_zero=True)."""
    left, right = 0.0, cutoff
    alpha = 0.5 * float(numtaps - 1)
    m = [float(i) - alpha for i in range(numtaps)]
    h = [0.0 + (right * _sinc(right * mi) - left * _sinc(left * mi)) for mi in m]
    h = [hi * w for hi, w in zip(h, _kaiser(numtaps, beta))]
    f = 0.0  # the first pass band starts at 0
    s = _fsum_seq(hi * math.cos(math.pi * mi * f) for hi, mi in zip(h, m))
    return [hi / s for hi in h]


class Resampler:
    """dsp::resample::Resampler: scipy.signal.resample_poly(x, up, down)."""

    def __init__(self, src, dst):
        g = math.gcd(src, dst)
        up, down = dst // g, src // g
        if max(up, down) > 10000:
            raise ParamsError(
                "resampling %d Hz to %d Hz needs a %d/%d polyphase filter; pick rates with "
                "a larger common divisor" % (src, dst, up, down))
        self.up, self.down = up, down
        max_rate = max(up, down)
        half_len = 10 * max_rate
        h = _firwin_lowpass(2 * half_len + 1, 1.0 / float(max_rate), 5.0)
        fup = float(up)
        h = [v * fup for v in h]
        pre_pad = down - half_len % down
        padded = [0.0] * pre_pad + h
        self.pre_remove = (half_len + pre_pad) // down
        self.phases = [padded[p::up][::-1] for p in range(up)]

    def process(self, x):
        up, down, pre, phases = self.up, self.down, self.pre_remove, self.phases
        n = len(x)
        count = -(-(n * up) // down)
        out = [0.0] * count
        for i in range(count):
            # Output i of upfirdn: the taps of phase m % up against x[..= m / up],
            # newest sample last (the phases are stored reversed).
            m = (i + pre) * down
            taps = phases[m % up]
            newest = m // up
            oldest = max(newest + 1 - len(taps), 0)
            end = min(newest + 1, n)
            if oldest >= end:
                continue
            skip = oldest + len(taps) - (newest + 1)
            out[i] = _dot4(taps[skip:], x[oldest:end])
        return out


def _dot4(a, b):
    """dsp::resample::dot: four partial sums from 0.0 (lane j takes the terms j,
    j + 4, ...), added as (s0 + s2) + (s1 + s3), then the rest in order."""
    n = min(len(a), len(b))
    n4 = n - n % 4
    s0 = s1 = s2 = s3 = 0.0
    for k in range(0, n4, 4):
        s0 += a[k] * b[k]
        s1 += a[k + 1] * b[k + 1]
        s2 += a[k + 2] * b[k + 2]
        s3 += a[k + 3] * b[k + 3]
    s = (s0 + s2) + (s1 + s3)
    for k in range(n4, n):
        s += a[k] * b[k]
    return s


_resamplers = {}


def resample(y, src, dst):
    key = (src, dst)
    r = _resamplers.get(key)
    if r is None:
        r = Resampler(src, dst)
        _resamplers.clear()  # keep one filter (the largest is ~200 000 taps)
        _resamplers[key] = r
    return r.process(y)


# ---------------------------------------------------------------- chunking

def split(p, y32, n):
    """dsp::chunk::Chunking::split over f32 samples (the f32 rounding is per
    sample, so rounding before cutting gives the same bits)."""
    length, hop, pad = p.chunk_length, p.hop, p.pad_start
    total = n + pad
    if total < length:
        if p.pad_end and n > 0:
            count = 1
        else:
            raise InputError(
                "the input holds %d samples, less than one chunk of %d" % (n, length))
    elif p.pad_end:
        count = -(-(total - length) // hop) + 1
    else:
        count = (total - length) // hop + 1
    if count * length > MAX_CHUNKED:
        raise InputError(
            "%d samples cut into chunks of %d every %d make %d chunks, over the limit "
            "of %d values in all; raise chunk_hop" % (n, length, hop, count, MAX_CHUNKED))
    chunks = []
    zeros = array("f", bytes(4 * length))
    for i in range(count):
        begin = (i * hop) & U32_MAX  # usize arithmetic wraps on wasm32
        if begin + length - 1 <= U32_MAX:
            lo = begin - pad
            a, b = max(lo, 0), min(lo + length, n)
            if a >= b:
                w = zeros
            else:
                w = zeros[: a - lo] + y32[a:b] + zeros[: lo + length - b]
        else:
            w = array("f")
            for k in range(length):
                j = ((begin + k) & U32_MAX) - pad
                w.append(y32[j] if 0 <= j < n else 0.0)
        chunks.append(w)
    return chunks


def _tensor(p, values):
    shape = [len(values) if c == "t" else 1 for c in p.axes]
    data = values.tobytes()
    if array("h", [1]).tobytes() != b"\x01\x00":
        v = array("f", values)
        v.byteswap()
        data = v.tobytes()
    return Tensor(name=p.input, shape=shape, dtype=Dtype.F32, data=data)


def preprocess(p, audio):
    max_seconds = p.max_seconds * 192000.0 * 8.0
    max_samples = U32_MAX if max_seconds >= U32_MAX else int(max_seconds)
    rate, channels, y = decode_wav(audio, max_samples)
    seconds = len(y) / float(rate)
    if seconds > p.max_seconds:
        raise InputError(
            "the recording lasts %.1f s, over max_seconds = %s"
            % (seconds, _rust_float(p.max_seconds)))
    if rate != p.sr:
        if not p.resample:
            raise InputError(
                "wrong sample rate: the file is %d Hz, the app expects %d Hz (set \"resample\": "
                "true to convert)" % (rate, p.sr))
        y = resample(y, rate, p.sr)
    n = len(y)
    y32 = array("f", y)  # `v as f32`: round to nearest, per sample
    chunks = split(p, y32, n) if p.chunk_length else [y32]
    return Preprocessed(
        chunks=[[_tensor(p, c)] for c in chunks],
        meta=InputMeta_Audio(AudioMeta(
            sample_rate=p.sr, source_rate=rate, samples=n, channels=channels,
            hop=p.hop & U32_MAX)),
    )


# ---------------------------------------------------------------- the exports

_params = None


class AudioPreprocess(exports.AudioPreprocess):
    def configure(self, config: Config) -> None:
        global _params
        try:
            _params = Params(config.params)
        except ParamsError as e:
            raise Err(ProcessorError_InvalidParams(str(e)))

    def process(self, audio: bytes) -> Preprocessed:
        if _params is None:
            raise Err(ProcessorError_InvalidParams("process called before configure"))
        try:
            return preprocess(_params, audio)
        except InputError as e:
            raise Err(ProcessorError_InvalidInput(str(e)))
        except ParamsError as e:  # as in Rust: a rate pair needing a huge filter
            raise Err(ProcessorError_InvalidParams(str(e)))
