"""Readers and conditioning: sound files, folders, manifests, HDF5 rows, and the bad-record rules."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile
import torch
from sciformer.checkpoint import read_checkpoint_info
from sciformer.config import ModelConfig
from sciformer.errors import BadRecordError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.records import Record
from sciformer.scoring import score
from sciformer_audio.tokenizer import WaveformTokenizer
from sciformer_audio.waveform import FULL_SCALE, Waveform, condition, resample

DATA = Path(__file__).resolve().parents[1] / "data"


def tone(seconds: float, rate: int, frequency: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    """A sine tone as float32."""
    time = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * time)).astype(np.float32)


@pytest.mark.parametrize("suffix, subtype", [(".wav", "PCM_16"), (".flac", "PCM_16"), (".ogg", "VORBIS")])
def test_sound_files_read_as_one_record(tmp_path: Path, host: PluginHost, suffix: str, subtype: str) -> None:
    """WAV, FLAC and OGG decode through soundfile into a Waveform named by the file's stem."""
    samples = tone(0.5, 16000)
    path = tmp_path / f"beep{suffix}"
    soundfile.write(path, samples, 16000, subtype=subtype)
    (record,) = list(read_records(host, "audio", path))
    assert record.id == "beep" and record.error is None
    assert record.data.sample_rate == 16000 and record.data.samples.shape == samples.shape
    tolerance = 1e-4 if subtype == "PCM_16" else 0.05  # Vorbis is lossy
    assert np.abs(record.data.samples - samples).max() < tolerance


def test_wav_int16_scaling_matches_the_file(host: PluginHost, fsdd_rows: list[dict[str, str]]) -> None:
    """FSDD's PCM16 samples arrive divided by 32768, as AST's loaders scale them."""
    path = DATA / fsdd_rows[0]["file"]
    (record,) = list(read_records(host, "audio", path))
    raw, rate = soundfile.read(path, dtype="int16")
    assert rate == record.data.sample_rate == 8000
    np.testing.assert_array_equal(record.data.samples, raw.astype(np.float32) / 32768)


def test_corrupt_and_missing_files_are_bad_records(tmp_path: Path, host: PluginHost) -> None:
    """Undecodable bytes and missing files give records with an error; the others still read."""
    folder = tmp_path / "clips"
    folder.mkdir()
    soundfile.write(folder / "good.wav", tone(0.2, 8000), 8000)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wave file")
    records = {r.id: r for r in read_records(host, "audio", folder)}
    assert records["good.wav"].error is None
    assert "cannot decode broken.wav" in records["broken.wav"].error
    manifest = tmp_path / "list.csv"
    manifest.write_text("file,label\nclips/good.wav,a\nclips/missing.wav,b\n,c\nclips,d\n")
    rows = list(read_records(host, "audio", manifest, {"target_column": "label"}))
    assert rows[0].error is None and rows[0].target == "a"
    assert rows[1].error.startswith("audio file not found")
    assert (rows[2].id, rows[2].error) == ("3", "row 3 names no audio file (column 'file' is empty)")
    assert rows[3].error == f"{folder} is a folder, not an audio file"


def test_folder_reader_with_class_subfolders(tmp_path: Path, host: PluginHost) -> None:
    """Files under sub-folders take the sub-folder as target with folder_labels; ids are relative paths."""
    for label in ("low", "high"):
        (tmp_path / label).mkdir()
        soundfile.write(tmp_path / label / "a.flac", tone(0.2, 8000, 200 if label == "low" else 2000), 8000)
    (tmp_path / "notes.txt").write_text("not audio")
    records = list(read_records(host, "audio", tmp_path, {"folder_labels": True}))
    assert [(r.id, r.target) for r in records] == [("high/a.flac", "high"), ("low/a.flac", "low")]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="no audio files"):
        list(read_records(host, "audio", empty))


def test_fsdd_manifest_reads_the_shipped_subset(host: PluginHost) -> None:
    """The shipped manifest: 30 recordings of digits 0-9 at 8 kHz with their targets."""
    records = list(read_records(host, "audio", DATA / "fsdd_sample.csv", {"target_column": "digit"}))
    assert len(records) == 30 and all(r.error is None for r in records)
    assert sorted({r.target for r in records}) == [str(d) for d in range(10)]
    assert {r.data.sample_rate for r in records} == {8000}
    with pytest.raises(InputFileError, match="column"):
        list(read_records(host, "audio", DATA / "fsdd_sample.csv", {"target_column": "label"}))


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_hdf5_variable_length_rows(tmp_path: Path, host: PluginHost, dtype: type) -> None:
    """Variable-length float or int16 rows with a sample_rate attribute, ids and targets beside them."""
    rows = [tone(0.1 * (i + 1), 8000) for i in range(3)]
    if dtype is np.int16:
        rows = [(r * 32768).astype(np.int16) for r in rows]
    path = tmp_path / "clips.h5"
    with h5py.File(path, "w") as handle:
        data = handle.create_dataset("waveforms", (3,), dtype=h5py.vlen_dtype(np.dtype(dtype)))
        for i, row in enumerate(rows):
            data[i] = row
        data.attrs["sample_rate"] = 8000
        handle["ids"] = np.array([b"a", b"b", b"c"])
        handle["label"] = np.array([0, 1, 0])
    records = list(read_records(host, "audio", path, {"target_column": "label"}))
    assert [(r.id, r.target, r.data.samples.shape[0]) for r in records] == [("a", "0", 800), ("b", "1", 1600), ("c", "0", 2400)]
    expected = rows[1].astype(np.float32) / (32768 if dtype is np.int16 else 1)
    np.testing.assert_allclose(records[1].data.samples, expected, atol=1e-7)
    with pytest.raises(InputFileError, match="no waveform dataset"):
        list(read_records(host, "audio", path, {"dataset": "audio"}))


def test_hdf5_without_sample_rate_is_a_file_error(tmp_path: Path, host: PluginHost) -> None:
    """A waveform dataset must say its rate (attribute or option)."""
    path = tmp_path / "norate.h5"
    with h5py.File(path, "w") as handle:
        handle["waveforms"] = np.zeros((2, 800), np.float32)
    with pytest.raises(InputFileError, match="sample_rate"):
        list(read_records(host, "audio", path))
    records = list(read_records(host, "audio", path, {"sample_rate": 8000}))
    assert [r.id for r in records] == ["0", "1"]


@pytest.mark.parametrize("rate", ["abc", "1e3.5", 0, -8000, 8000.5, "0"])
def test_a_sample_rate_that_is_no_whole_number_of_hz_is_a_file_error(tmp_path: Path, host: PluginHost, rate: object) -> None:
    """The option (or attribute) must be a positive whole number of Hz: one line, before any record."""
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w") as handle:
        handle["waveforms"] = np.zeros((2, 800), np.float32)
    with pytest.raises(InputFileError, match=r"sample rate of dataset 'waveforms' must be a positive whole number of Hz, got"):
        list(read_records(host, "audio", path, {"sample_rate": rate}))
    assert [r.data.sample_rate for r in read_records(host, "audio", path, {"sample_rate": "8000"})] == [8000, 8000]
    assert [r.data.sample_rate for r in read_records(host, "audio", path, {"sample_rate": 8000.0})] == [8000, 8000]


def test_stereo_is_mixed_and_other_rates_resampled() -> None:
    """Stereo becomes the mean of its channels; 8 kHz becomes 16 kHz by resample_poly; the mean is removed."""
    left, right = tone(0.5, 8000, 300), tone(0.5, 8000, 700)
    stereo = Waveform(np.stack((left, right), axis=1), 8000)
    conditioned = condition("s", stereo, 16000, 400, 0.001)
    expected = resample((left + right) / 2, 8000, 16000)
    assert conditioned.shape == (8000,)
    np.testing.assert_allclose(conditioned, expected - expected.mean(), atol=1e-6)
    # the 300 Hz tone survives resampling at its frequency
    spectrum = np.abs(np.fft.rfft(resample(left, 8000, 16000)))
    assert np.argmax(spectrum) * 16000 / 8000 == pytest.approx(300, abs=2)


def test_bad_audio_reasons() -> None:
    """Empty, non-finite, clipped, too-short and (channels, samples) audio raise BadRecordError with the reason."""
    config = ModelConfig(domain="audio", domain_options={"sample_rate": 16000})
    tokenizer = WaveformTokenizer(config)
    loud = tone(1.0, 16000, amplitude=1.0)
    loud[::100] = FULL_SCALE  # 1% of samples at full scale
    cases = {
        "empty": (Waveform(np.zeros(0, np.float32), 16000), "empty audio"),
        "nan": (Waveform(np.array([0.0, np.nan] * 400, np.float32), 16000), "NaN or infinite"),
        "clipped": (Waveform(loud, 16000), "clipped audio: 1.00%"),
        "unscaled": (Waveform(tone(1.0, 16000, amplitude=3000.0), 16000), "clipped audio"),
        "short": (Waveform(tone(0.01, 8000), 8000), "too short: 160 samples at 16000 Hz, one frame needs 400"),
        "text": ("a waveform", "must hold a Waveform"),
        "transposed": (Waveform(np.stack([tone(1.0, 16000)] * 2), 16000), "audio of shape (2, 16000) has more channels than samples"),
    }
    for name, (data, reason) in cases.items():
        with pytest.raises(BadRecordError, match=re.escape(reason)) as error:
            tokenizer.encode(Record(name, data))
        assert error.value.record_id == name
    reader_error = Record("r", None, error="cannot decode r.wav: bad header")
    with pytest.raises(BadRecordError, match="bad header"):
        tokenizer.encode(reader_error)
    few_clipped = tone(1.0, 16000, amplitude=0.5)
    few_clipped[:8] = 1.0  # 0.05%: below the 0.1% rule, so fine
    assert tokenizer.encode(Record("ok", Waveform(few_clipped, 16000)))[0].shape == (16000,)


def test_tokenizer_crops_to_the_frames_the_model_sees() -> None:
    """Samples past max_length frames are dropped on the CPU; the batch has a fixed token count."""
    config = ModelConfig(domain="audio", domain_options={"sample_rate": 8000, "num_mel_bins": 64, "max_length": 50})
    tokenizer = WaveformTokenizer(config)
    long, short = tone(3.0, 8000), tone(0.2, 8000)
    batch = tokenizer([Record("long", long), Record("short", short)])
    assert batch.features.shape == (2, 200 + 49 * 80)
    assert batch.extras["num_samples"].tolist() == [4120, 1600]
    assert batch.padding_mask.shape == (2, 2 + 5 * 4) and bool(batch.padding_mask.all())
    assert tokenizer.num_tokens(tokenizer.encode(Record("x", short))) == 22
    assert tokenizer.warning(tokenizer.encode(Record("long", long))) == "cropped: the model heard the first 0.52 s of 3.00 s (max_length 50 frames)"
    assert tokenizer.warning(tokenizer.encode(Record("short", short))) is None


def test_a_cropped_recording_is_scored_with_a_note(tmp_path: Path, host: PluginHost, fsdd_rows: list[dict[str, str]]) -> None:
    """A recording longer than the model's frames is scored on its start (status 0), the crop named in `error`."""
    samples, rate = soundfile.read(DATA / fsdd_rows[0]["file"], dtype="float32")
    folder = tmp_path / "clips"
    folder.mkdir()
    soundfile.write(folder / "long.wav", np.tile(samples, 4), rate)
    soundfile.write(folder / "start.wav", np.tile(samples, 4)[:6520], rate)  # the 0.815 s (80 frames) the model hears of long.wav
    summary = score("ast-fsdd-small", folder, tmp_path / "out.h5", host)
    assert (summary.scored, summary.bad, summary.noted) == (2, 0, 1)
    with h5py.File(tmp_path / "out.h5") as results:
        errors, ids, probabilities = results["error"].asstr()[:], results["record_id"].asstr()[:], results["probabilities"][:]
    seconds = 4 * len(samples) / rate
    assert dict(zip(ids, errors)) == {"long.wav": f"cropped: the model heard the first 0.81 s of {seconds:.2f} s (max_length 80 frames)", "start.wav": ""}
    np.testing.assert_allclose(probabilities[0], probabilities[1], atol=1e-3)  # the mean is removed over the whole recording first


COUNT = 3000
BAD = 2501  # the record (from 1) that holds the fault


def test_manifest_and_hdf5_faults_spoil_only_their_records(tmp_path: Path, host: PluginHost) -> None:
    """A manifest row with a latin-1 byte or too few cells, an HDF5 id that is not UTF-8: those records only."""
    soundfile.write(tmp_path / "clip.wav", tone(0.05, 8000), 8000)
    rows = [b"id,file,label\n"] + [b"c%d,clip.wav,a\n" % n for n in range(1, COUNT + 1)]
    rows[BAD] = b"c2501,cl\xe9p.wav,a\n"
    rows[1000] = b"c1000,clip.wav\n"
    manifest = tmp_path / "list.csv"
    manifest.write_bytes(b"".join(rows))
    records = list(read_records(host, "audio", manifest, {"id_column": "id", "target_column": "label"}))
    assert len(records) == COUNT and records[0].data.samples.shape == (400,)
    assert [(r.id, r.error) for r in records if r.error] == [
        ("c1000", "row has 2 of the header's 3 cells (no 'label' cell)"),
        ("c2501", "not UTF-8 text: byte 0xE9 at character 3 of column 'file'"),
    ]
    path = tmp_path / "clips.h5"
    ids = np.array([b"c%d" % n for n in range(1, COUNT + 1)])
    ids[BAD - 1] = b"c\xe9"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("waveforms", data=np.tile(tone(0.01, 8000), (COUNT, 1))).attrs["sample_rate"] = 8000
        handle["ids"] = ids
    records = list(read_records(host, "audio", path))
    assert len(records) == COUNT and [(r.id, r.error) for r in records if r.error] == [("c\ufffd", "not UTF-8 text: byte 0xE9 at character 2 of the id")]


def test_truncated_wav_is_scored_with_a_warning(tmp_path: Path, host: PluginHost, fsdd_rows: list[dict[str, str]]) -> None:
    """A WAV cut inside its data chunk is scored on the samples it holds (status 0), the cut named in `error`."""
    raw = (DATA / fsdd_rows[0]["file"]).read_bytes()
    declared = soundfile.info(DATA / fsdd_rows[0]["file"]).frames
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "whole.wav").write_bytes(raw)
    (folder / "cut.wav").write_bytes(raw[: len(raw) - 2 * (declared // 3) - 1])  # a third of the samples and half a sample gone
    present = declared - declared // 3 - 1
    summary = score("ast-fsdd-small", folder, tmp_path / "out.h5", host)
    assert (summary.scored, summary.bad) == (2, 0)
    with h5py.File(tmp_path / "out.h5") as results:
        status, errors, ids = results["status"][:], results["error"].asstr()[:], results["record_id"].asstr()[:]
    assert status.tolist() == [0, 0]
    assert dict(zip(ids, errors)) == {"cut.wav": f"truncated WAV: {present:,} of {declared:,} samples", "whole.wav": ""}


def test_int16_int32_and_float_wav_give_the_same_features(tmp_path: Path, host: PluginHost, fsdd_rows: list[dict[str, str]]) -> None:
    """The same recording written as PCM_16, PCM_32 and 32-bit float WAV reaches the model unchanged."""
    samples, rate = soundfile.read(DATA / fsdd_rows[0]["file"], dtype="int16")
    as_float = samples.astype(np.float32) / 32768
    for subtype in ("PCM_16", "PCM_32", "FLOAT"):
        soundfile.write(tmp_path / f"{subtype}.wav", as_float, rate, subtype=subtype)
    tokenizer = host.tokenizer(read_checkpoint_info(host.shipped_models()["ast-fsdd-small"].path).config)
    records = list(read_records(host, "audio", tmp_path))
    features = [tokenizer.encode(record) for record in records]
    assert [r.id for r in records] == ["FLOAT.wav", "PCM_16.wav", "PCM_32.wav"]
    for encoding in features[1:]:
        for mine, theirs in zip(encoding, features[0]):
            assert torch.equal(mine, theirs) if isinstance(mine, torch.Tensor) else mine == theirs
