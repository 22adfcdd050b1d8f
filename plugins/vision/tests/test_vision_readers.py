"""Readers: HDF5 and .npz stacks in every layout, image files through Pillow, pixel-per-column CSV tables."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image
from sciformer.errors import InputFileError
from sciformer.reading import read_records

DATA = Path(__file__).resolve().parents[1] / "data"


def write_h5(path: Path, images: np.ndarray, **extra: np.ndarray) -> Path:
    with h5py.File(path, "w") as handle:
        handle["images"] = images
        for name, values in extra.items():
            handle[name] = values
    return path


@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW"])
def test_hdf5_layouts_detected_and_read_channels_last(tmp_path, host, mnist, layout):
    images, labels = mnist[0][:6], mnist[1][:6]
    rgb = np.stack([images, images // 2, 255 - images], axis=-1)  # (N, H, W, 3)
    stored = {"NHW": images, "NHWC": rgb, "NCHW": rgb.transpose(0, 3, 1, 2)}[layout]
    path = write_h5(tmp_path / "stack.h5", stored, labels=labels)
    records = list(read_records(host, "vision", path))
    assert [r.id for r in records] == [str(i) for i in range(6)]
    assert [r.target for r in records] == labels.tolist()
    expected = images[..., None] if layout == "NHW" else rgb
    for record, image in zip(records, expected):
        assert record.error is None
        assert record.data.dtype == np.uint8
        np.testing.assert_array_equal(record.data, image)


def test_hdf5_float_multichannel_nan_is_a_bad_record_and_ids_are_read(tmp_path, host):
    stack = np.random.default_rng(0).random((3, 5, 16, 16), dtype=np.float32)  # 5-channel, channels first
    stack[1, 2, 3, 4] = np.nan
    path = write_h5(tmp_path / "cells.h5", stack, ids=np.array([b"a", b"b", b"c"]))
    records = list(read_records(host, "vision", path, {"id_column": "ids"}))
    assert [r.id for r in records] == ["a", "b", "c"]
    assert records[0].data.shape == (16, 16, 5) and records[0].data.dtype == np.float32
    assert records[1].data is None and "NaN" in records[1].error
    assert records[2].error is None


def test_layout_option_overrides_ambiguous_detection(tmp_path, host):
    stack = np.arange(2 * 3 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3, 3)
    path = write_h5(tmp_path / "tiny.h5", stack)
    with pytest.raises(InputFileError, match="layout=NHWC or layout=NCHW"):
        list(read_records(host, "vision", path))
    channels_first = list(read_records(host, "vision", path, {"layout": "NCHW"}))
    np.testing.assert_array_equal(channels_first[0].data, stack[0].transpose(1, 2, 0))


def test_hdf5_wrong_shapes_are_file_errors(tmp_path, host):
    path = tmp_path / "flat.h5"
    with h5py.File(path, "w") as handle:
        handle["pixels"] = np.zeros((4, 784), dtype=np.uint8)
        handle["labels"] = np.zeros(4, dtype=np.uint8)
    with pytest.raises(InputFileError, match="dataset=NAME"):
        list(read_records(host, "vision", path))
    with pytest.raises(InputFileError, match=r"expected images as \(N, H, W\)"):
        list(read_records(host, "vision", path, {"dataset": "pixels"}))
    labelled = write_h5(tmp_path / "labels.h5", np.zeros((4, 8, 8), dtype=np.uint8), labels=np.zeros(3))
    with pytest.raises(InputFileError, match="one value per image"):
        list(read_records(host, "vision", labelled))


def test_npz_reader_reads_the_shipped_mnist_subset(host, mnist):
    records = list(read_records(host, "vision", DATA / "mnist_100.npz", {"id_column": "t10k_index"}))
    assert len(records) == 100
    np.testing.assert_array_equal(records[7].data[..., 0], mnist[0][7])
    assert records[7].target == int(mnist[1][7])
    with np.load(DATA / "mnist_100.npz") as archive:
        assert records[7].id == str(archive["t10k_index"][7])


def test_pixel_table_reads_digits_and_marks_broken_rows(tmp_path, host):
    records = list(read_records(host, "vision", DATA / "digits_20.csv", {"id_column": "row"}))
    assert len(records) == 20 and all(r.error is None for r in records)
    assert records[0].data.shape == (8, 8, 1) and records[0].data.dtype == np.float32
    assert 0 <= records[0].data.min() and records[0].data.max() <= 16
    lines = (DATA / "digits_20.csv").read_text().splitlines()
    broken = lines[1].split(",")
    broken[5] = "x"
    empty = lines[2].split(",")
    empty[9] = ""
    table = tmp_path / "broken.csv"
    table.write_text("\n".join([lines[0], ",".join(broken), ",".join(empty), lines[3]]) + "\n")
    bad = list(read_records(host, "vision", table))
    assert "not a number" in bad[0].error and "empty pixel" in bad[1].error and bad[2].error is None
    assert bad[2].target == records[2].target


def test_pixel_table_needs_a_square_or_a_shape(tmp_path, host):
    table = tmp_path / "odd.csv"
    table.write_text("p0,p1,p2,label\n1,2,3,0\n")
    with pytest.raises(InputFileError, match="image_shape"):
        list(read_records(host, "vision", table))
    (record,) = read_records(host, "vision", table, {"image_shape": [1, 3]})
    assert record.data.shape == (1, 3, 1) and record.target == 0


def test_image_files_png_jpeg_tiff_in_class_folders(tmp_path, host, mnist):
    digit = mnist[0][0]
    rgb = np.stack([digit, 255 - digit, digit // 3], axis=-1)
    (tmp_path / "grey").mkdir()
    (tmp_path / "colour").mkdir()
    Image.fromarray(digit).save(tmp_path / "grey" / "a.png")
    Image.fromarray(rgb).save(tmp_path / "colour" / "b.jpg", quality=95)
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "colour" / "c.tif")
    Image.fromarray(digit.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    records = {r.id: r for r in read_records(host, "vision", tmp_path)}
    assert sorted(records) == ["broken.png", "colour/b.jpg", "colour/c.tif", "deep.png", "grey/a.png"]
    np.testing.assert_array_equal(records["grey/a.png"].data[..., 0], digit)
    assert records["grey/a.png"].target == "grey" and records["deep.png"].target is None
    assert records["colour/b.jpg"].data.shape == (28, 28, 3)
    with Image.open(tmp_path / "colour" / "b.jpg") as decoded:  # JPEG is lossy: compare with Pillow's decoding
        np.testing.assert_array_equal(records["colour/b.jpg"].data, np.asarray(decoded))
    assert records["colour/c.tif"].data.shape == (28, 28, 4)
    assert records["deep.png"].data.dtype == np.uint16 and records["deep.png"].data.max() == 255 * 257
    assert records["broken.png"].data is None and "unreadable image" in records["broken.png"].error


def test_single_file_and_multiframe_tiff_as_channels(tmp_path, host, mnist):
    frames = [Image.fromarray(mnist[0][i]) for i in range(3)]
    frames[0].save(tmp_path / "stack.tif", save_all=True, append_images=frames[1:])
    (first,) = read_records(host, "vision", tmp_path / "stack.tif")
    assert first.id == "stack.tif" and first.data.shape == (28, 28, 1)
    (stacked,) = read_records(host, "vision", tmp_path / "stack.tif", {"frames": "channels"})
    np.testing.assert_array_equal(stacked.data, mnist[0][:3].transpose(1, 2, 0))


def test_shipped_png_folder_labels_follow_subfolders(host):
    records = list(read_records(host, "vision", DATA / "png"))
    assert len(records) == 5
    assert all(r.id.split("/")[0] == r.target for r in records)


COUNT = 3000
BAD = 2501  # the record (from 1) that holds the fault


def damage_chunk(path: Path, dataset: str, chunk: int) -> None:
    """Break the zlib header of one compressed chunk of an HDF5 dataset, so reading it fails."""
    with h5py.File(path) as handle:
        where = handle[dataset].id.get_chunk_info(chunk).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(where)
        head = handle.read(4)
        handle.seek(where)
        handle.write(bytes(b ^ 0xFF for b in head))


def test_hdf5_damaged_chunk_and_bad_id_spoil_only_their_records(tmp_path, host):
    images = np.random.default_rng(0).integers(0, 256, (COUNT, 8, 8), dtype=np.uint8)
    ids = np.array([b"img%d" % n for n in range(COUNT)])
    ids[BAD - 1] = b"img\xe9"
    path = tmp_path / "stack.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("images", data=images, chunks=(100, 8, 8), compression="gzip")
        handle["ids"] = ids
    damage_chunk(path, "images", 10)  # images 1000..1099
    records = list(read_records(host, "vision", path, {"id_column": "ids"}))
    assert len(records) == COUNT
    bad = {r.id: r.error for r in records if r.error}
    assert sorted(bad) == sorted([f"img{n}" for n in range(1000, 1100)] + ["img\ufffd"])
    assert bad["img1000"].startswith("image 1000 cannot be read") and bad["img\ufffd"] == "not UTF-8 text: byte 0xE9 at character 4 of the id"
    np.testing.assert_array_equal(records[999].data[..., 0], images[999])
    np.testing.assert_array_equal(records[1100].data[..., 0], images[1100])


def test_damaged_npz_is_one_file_error(tmp_path, host, mnist):
    path = tmp_path / "damaged.npz"
    np.savez_compressed(path, images=mnist[0], labels=mnist[1])
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3] ^= 0xFF  # inside the images member: its CRC or its deflate stream fails
    path.write_bytes(bytes(raw))
    with pytest.raises(InputFileError, match=r"damaged.npz: not a readable .npz archive") as caught:
        list(read_records(host, "vision", path))
    assert "\n" not in str(caught.value)


def test_pixel_table_row_faults_spoil_only_their_records(tmp_path, host):
    lines = (DATA / "digits_20.csv").read_text().splitlines()
    header, row = lines[0], lines[1]
    short = ",".join(row.split(",")[:-3])
    body = [row.encode()] * COUNT
    body[1000] = short.encode()
    body[BAD - 1] = row.replace(",", ",\xe9", 1).encode("latin-1")
    path = tmp_path / "digits.csv"
    path.write_bytes(b"\n".join([header.encode(), *body]) + b"\n")
    records = list(read_records(host, "vision", path))
    assert len(records) == COUNT
    bad = {r.id: r.error for r in records if r.error}
    assert set(bad) == {"1001", str(BAD)}
    assert bad["1001"].startswith("row has ") and "not UTF-8 text: byte 0xE9" in bad[str(BAD)]


def test_image_folder_faults_spoil_only_their_records(tmp_path, host, mnist):
    """In a folder of 300 PNG files, a truncated one is a bad record and a file name that is not UTF-8 an
    id with U+FFFD; the others read."""
    folder = tmp_path / "digits"
    folder.mkdir()
    for n in range(300):
        Image.fromarray(mnist[0][n % 100]).save(folder / f"{n:03d}.png")
    raw = (folder / "150.png").read_bytes()
    (folder / "150.png").write_bytes(raw[: len(raw) // 2])
    (folder / "200.png").rename(os.fsdecode(bytes(folder) + b"/200-caf\xe9.png"))
    records = {r.id: r for r in read_records(host, "vision", folder)}
    assert len(records) == 300 and "200-caf\ufffd.png" in records and records["200-caf\ufffd.png"].error is None
    assert [(i, r.error) for i, r in records.items() if r.error] == [("150.png", "unreadable image file (image file is truncated)")]
