"""Post-hoc diagnosis from CSV, JSONL and TensorBoard logs, and the errors for logs that cannot be read."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from ravine.diagnose import LogFormatError, diagnose_log, read_log
from ravine.diagnose.logs import tensorboard as tb

STEPS = np.arange(400)
FALLING = 0.1 + 2.2 * np.exp(-STEPS / 60) * np.exp(np.random.default_rng(0).normal(scale=0.1, size=400))


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_crc32c_check_value() -> None:
    # the CRC-32C check value of "123456789" (RFC 3720, Appendix B.4)
    assert tb.crc32c(b"123456789") == 0xE3069283


def test_csv_with_empty_cells_and_a_validation_column(tmp_path: Path) -> None:
    rows = [
        f"{s},{v:.5f},{(0.8 + 0.00002 * (s - 150) ** 2) if s % 50 == 0 else ''},0.1"
        for s, v in zip(STEPS, FALLING, strict=True)
    ]
    path = write_csv(tmp_path / "run.csv", "step,train_loss,val_loss,lr", rows)
    trace = read_log(path)
    assert trace.get("loss")[0].size == 400 and trace.get("val_loss")[0].tolist() == list(range(0, 400, 50))
    report = diagnose_log(path)
    assert report.kinds() == ["overfitting"]
    assert {"dead_units", "exploding_gradients"} <= {s.check for s in report.skipped}


def test_nan_rows_are_data_not_errors(tmp_path: Path) -> None:
    rows = [f"{s},{v if s < 300 else 'nan'}" for s, v in zip(STEPS, FALLING, strict=True)]
    report = diagnose_log(write_csv(tmp_path / "nan.csv", "step,loss", rows))
    assert report.kinds() == ["divergence"] and report.worst == "error"


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        ("step,accuracy", ["0,0.1", "1,0.2"], "no training loss; expected a column or tag named loss or train_loss"),
        ("step,loss", ["0,0.5", "1,abc"], "line 3, column 'loss': 'abc' is not a number"),
        ("step,loss", ["nan,0.5"], "the step cell must be a finite number"),
        ("step,loss", [], "a header but no rows"),
        ("step,loss", ["0,1,2,3"], "line 2 has 4 cells, the header has 2"),
    ],
)
def test_bad_csv_is_refused_with_its_reason(tmp_path: Path, header: str, rows: list[str], message: str) -> None:
    with pytest.raises(LogFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_log(write_csv(tmp_path / "bad.csv", header, rows))


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such log"):
        read_log(tmp_path / "nope.csv")
    blob = tmp_path / "weights.bin"
    blob.write_bytes(bytes(range(256)))
    with pytest.raises(LogFormatError, match="unknown log format"):
        read_log(blob)
    with pytest.raises(ValueError, match="format must be one of"):
        read_log(blob, format="parquet")


def test_generic_jsonl_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"global_step": int(s), "loss": float(v), "learning_rate": 0.01})
            for s, v in zip(STEPS, FALLING, strict=True)
        )
    )
    trace = read_log(path)
    assert trace.get("lr")[1][0] == 0.01 and diagnose_log(path).ok
    path.write_text('{"step": 0, "loss": 1}\n{not json}\n')
    with pytest.raises(LogFormatError, match="line 2 is not JSON"):
        read_log(path)


def test_tensorboard_scalars_simple_value_and_tensor(tmp_path: Path) -> None:
    tb.write_scalars(
        tmp_path,
        {
            "train/loss": list(zip(STEPS.tolist(), FALLING.tolist(), strict=True)),
            "lr-SGD": [(int(s), 0.1) for s in STEPS],
        },
    )
    val = tmp_path / "validation"
    val.mkdir()
    tb.write_scalars(val, {"epoch_loss": [(s, 0.8 + 0.00002 * (s - 150) ** 2) for s in range(0, 400, 50)]})
    trace = read_log(tmp_path)
    assert trace.get("loss")[0].size == 400 and trace.get("lr")[1][0] == pytest.approx(0.1)
    assert trace.get("val_loss")[0].tolist() == list(range(0, 400, 50))
    assert diagnose_log(tmp_path).kinds() == ["overfitting"]


def test_tensorboard_tensor_scalars_as_tf2_writes_them(tmp_path: Path) -> None:
    def tensor(value: float) -> bytes:  # TensorProto: dtype DT_FLOAT, empty shape, 4-byte tensor_content
        content = struct.pack("<f", value)
        return tb._key(1, 0) + tb._enc_varint(1) + tb._len_field(2, b"") + tb._len_field(4, content)

    path = tmp_path / "events.out.tfevents.1.tf2"
    with path.open("wb") as f:
        f.write(tb._record(tb._event(0, 0.0, version="brain.Event:2")))
        for s in range(60):
            value = tb._len_field(1, b"loss") + tb._len_field(8, tensor(2.0 - s / 100))
            f.write(tb._record(tb._event(s, 0.0, summary=tb._len_field(1, value))))
    _, v = read_log(path).get("loss")
    assert v.size == 60 and v[-1] == pytest.approx(1.41)


def test_a_truncated_event_file_is_read_up_to_the_cut_and_a_corrupt_one_refused(tmp_path: Path) -> None:
    path = tb.write_scalars(tmp_path / "events.out.tfevents.x", {"loss": [(s, 1.0) for s in range(50)]})
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    assert read_log(path).get("loss")[0].size == 49
    path.write_bytes(b"\x00" * 40)
    with pytest.raises(LogFormatError, match="not a TensorBoard event file"):
        read_log(path)


def test_nan_in_tensorboard_is_kept(tmp_path: Path) -> None:
    path = tb.write_scalars(
        tmp_path / "events.out.tfevents.n",
        {"loss": [(s, float(v) if s < 300 else math.nan) for s, v in zip(STEPS, FALLING, strict=True)]},
    )
    assert diagnose_log(path).kinds() == ["divergence"]
