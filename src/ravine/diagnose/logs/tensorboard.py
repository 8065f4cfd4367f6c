"""TensorBoard event files, scalars only, in pure Python (no tensorflow, no tensorboard package).

An event file is a TFRecord stream: each record is ``uint64 length, uint32 masked CRC-32C of the length,
data, uint32 masked CRC-32C of the data`` (little endian), and each data block an ``Event`` protocol buffer
(tensorflow/core/util/event.proto): ``wall_time = 1`` (double), ``step = 2`` (int64), ``summary = 5``. A
``Summary`` holds repeated ``Value`` (``tag = 1``, ``simple_value = 2`` (float), or ``tensor = 8``, a
``TensorProto`` with ``dtype = 1``, ``tensor_content = 4``, ``float_val = 5``, ``double_val = 6``, ...).
Scalars written by ``torch.utils.tensorboard`` (``simple_value``) and by ``tf.summary.scalar`` (a 0-d tensor)
are both read; images, histograms and the rest are skipped.

``write_scalars`` writes such files (for tests and examples); records carry correct CRCs, so TensorBoard reads
them too.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ravine.diagnose import trace as T
from ravine.diagnose.errors import LogFormatError
from ravine.diagnose.logs import columns

_VAL_DIRS = ("validation", "val", "valid", "eval", "test")


def _crc32c_table() -> list[int]:
    poly = 0x82F63B78  # Castagnoli, reflected
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC: rotate right by 15 and add 0xa282ead8."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# -- protocol buffer wire format ---------------------------------------------------------------------------
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """``(field number, wire type, value)``: ints for varints, bytes for 64/32-bit and length-delimited."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield field, wire, value
        elif wire == 1:
            yield field, wire, buf[i : i + 8]
            i += 8
        elif wire == 2:
            n, i = _varint(buf, i)
            yield field, wire, buf[i : i + n]
            i += n
        elif wire == 5:
            yield field, wire, buf[i : i + 4]
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


_DTYPE = {1: ("<f", 4), 2: ("<d", 8), 3: ("<i", 4), 9: ("<q", 8), 19: ("<e", 2)}


def _tensor_scalar(buf: bytes) -> float | None:
    dtype, content, shape_dims = 0, b"", 0
    vals: list[float] = []
    for field, wire, value in _fields(buf):
        if field == 1 and wire == 0:
            dtype = int(value)  # type: ignore[arg-type]
        elif field == 2 and wire == 2:
            shape_dims = sum(1 for f, _, _ in _fields(value) if f == 2)  # type: ignore[arg-type]
        elif field == 4 and wire == 2:
            content = value  # type: ignore[assignment]
        elif field in (5, 6) and wire == 2:
            fmt, size = ("<f", 4) if field == 5 else ("<d", 8)
            vals += [x[0] for x in struct.iter_unpack(fmt, value)]  # type: ignore[arg-type]
        elif field == 5 and wire == 5:
            vals.append(struct.unpack("<f", value)[0])  # type: ignore[arg-type]
        elif field == 6 and wire == 1:
            vals.append(struct.unpack("<d", value)[0])  # type: ignore[arg-type]
        elif field in (7, 10) and wire == 0:
            vals.append(float(value))  # type: ignore[arg-type]
    if shape_dims:
        return None  # not a scalar (a histogram's or an image's tensor)
    if content and dtype in _DTYPE:
        fmt, size = _DTYPE[dtype]
        if len(content) == size:
            return float(struct.unpack(fmt, content)[0])
        return None
    return float(vals[0]) if len(vals) == 1 else None


def _scalars(event: bytes) -> tuple[int, list[tuple[str, float]]]:
    step, out = 0, []
    for field, wire, value in _fields(event):
        if field == 2 and wire == 0:
            step = int(value)  # type: ignore[arg-type]
            if step >= 1 << 63:
                step -= 1 << 64
        elif field == 5 and wire == 2:
            for f, w, v in _fields(value):  # type: ignore[arg-type]
                if f != 1 or w != 2:
                    continue
                tag, number = "", None
                for vf, vw, vv in _fields(v):  # type: ignore[arg-type]
                    if vf == 1 and vw == 2:
                        tag = vv.decode("utf-8", "replace")  # type: ignore[union-attr]
                    elif vf == 2 and vw == 5:
                        number = struct.unpack("<f", vv)[0]  # type: ignore[arg-type]
                    elif vf == 8 and vw == 2:
                        number = _tensor_scalar(vv)  # type: ignore[arg-type]
                if tag and number is not None:
                    out.append((tag, float(number)))
    return step, out


def records(path: Path) -> Iterator[bytes]:
    """The data blocks of a TFRecord file (a truncated last record, from a run still writing, is dropped)."""
    with path.open("rb") as f:
        while True:
            head = f.read(12)
            if len(head) < 12:
                return
            (length,) = struct.unpack("<Q", head[:8])
            (crc,) = struct.unpack("<I", head[8:])
            if crc != masked_crc(head[:8]):
                raise LogFormatError(f"{path}: not a TensorBoard event file (bad record header)")
            data = f.read(length)
            if len(data) < length or len(f.read(4)) < 4:
                return
            yield data


def is_event_file(path: Path) -> bool:
    """Whether ``path`` is named like a TensorBoard event file."""
    return "tfevents" in path.name


def read_tensorboard(path: Path) -> T.Trace:
    """A trace from an event file, or from every event file under a directory (``validation/`` runs as ``val_``)."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and is_event_file(p)) if path.is_dir() else [path]
    if not files:
        raise LogFormatError(f"{path}: no TensorBoard event files (events.out.tfevents.*) in this directory")
    trace = T.Trace(meta={"source": str(path), "format": "tensorboard"})
    tags: set[str] = set()
    for file in files:
        val = columns.normalise(file.parent.name) in _VAL_DIRS and file.parent != path
        for data in records(file):
            try:
                step, values = _scalars(data)
            except (ValueError, struct.error) as exc:
                raise LogFormatError(f"{file}: corrupt event record ({exc})") from None
            for tag, value in values:
                tags.add(tag)
                name = _tag_name(tag, val)
                if name is not None:
                    trace.add(name, step, value)
    trace.meta["tags"] = sorted(tags)
    return columns.finish(trace)


def _tag_name(tag: str, validation: bool) -> str | None:
    if not validation and columns.canonical(tag):
        return columns.canonical(tag)
    key = columns.normalise(tag)
    for prefix in ("epoch_", "batch_"):
        key = key.removeprefix(prefix)
    if validation:
        key = "val_" + key.removeprefix("val_")
    return columns.canonical(key)


# -- writing -------------------------------------------------------------------------------------------------
def _key(field: int, wire: int) -> bytes:
    return _enc_varint((field << 3) | wire)


def _enc_varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _enc_varint(len(data)) + data


def _event(step: int, wall_time: float, summary: bytes | None = None, version: str | None = None) -> bytes:
    out = _key(1, 1) + struct.pack("<d", wall_time) + _key(2, 0) + _enc_varint(step)
    if version is not None:
        out += _len_field(3, version.encode())
    if summary is not None:
        out += _len_field(5, summary)
    return out


def _record(data: bytes) -> bytes:
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", masked_crc(head)) + data + struct.pack("<I", masked_crc(data))


def write_scalars(
    path: str | Path, scalars: Mapping[str, Sequence[tuple[int, float]]], wall_time: float | None = None
) -> Path:
    """Write ``{tag: [(step, value), ...]}`` as a TensorBoard event file (simple_value scalars); returns the path.

    A directory ``path`` gets a file named ``events.out.tfevents.<time>.ravine``.
    """
    p = Path(path)
    if p.is_dir():
        p = p / f"events.out.tfevents.{int(time.time())}.ravine"
    t = time.time() if wall_time is None else wall_time
    by_step: dict[int, list[tuple[str, float]]] = {}
    for tag, points in scalars.items():
        for step, value in points:
            by_step.setdefault(int(step), []).append((tag, float(value)))
    with p.open("wb") as f:
        f.write(_record(_event(0, t, version="brain.Event:2")))
        for step in sorted(by_step):
            summary = b"".join(
                _len_field(1, _len_field(1, tag.encode()) + _key(2, 5) + struct.pack("<f", value))
                for tag, value in by_step[step]
            )
            f.write(_record(_event(step, t, summary=summary)))
    return p
