"""Preprocessing, tokenization and the configuration learned from training images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sciformer.errors import BadRecordError, ConfigError
from sciformer.records import Record
from sciformer_vision.prepare import prepare_config
from sciformer_vision.preprocess import Preprocessing
from sciformer_vision.tokenizer import ImageTokenizer


@pytest.mark.parametrize("resample, pillow", [("bilinear", Image.Resampling.BILINEAR), ("bicubic", Image.Resampling.BICUBIC)])
@pytest.mark.parametrize("size", [(20, 20), (40, 36)])
def test_resize_of_8bit_images_is_pillows(mnist, resample, pillow, size):
    digit = mnist[0][0]
    pixels = Preprocessing(channels=1, resize=size, resample=resample)(digit, "d")
    expected = np.asarray(Image.fromarray(digit).resize(size[::-1], pillow)) / 255.0
    np.testing.assert_allclose(pixels[0].numpy(), expected, atol=1e-6)


def test_shorter_side_resize_then_centre_crop(mnist):
    wide = np.concatenate([mnist[0][0], mnist[0][1]], axis=1)  # (28, 56)
    step = Preprocessing(channels=1, resize=14, resample="bilinear", rescale=1.0)
    assert step(wide, "w").shape == (1, 14, 28)
    ramp = np.arange(10 * 12, dtype=np.float32).reshape(10, 12)
    cropped = Preprocessing(channels=1, crop=(4, 6), rescale=1.0)(ramp, "r")[0].numpy()
    np.testing.assert_array_equal(cropped, ramp[3:7, 3:9])
    with pytest.raises(BadRecordError, match="smaller than the centre crop"):
        Preprocessing(channels=1, crop=(12, 12))(ramp, "r")


def test_rescale_by_dtype_and_explicit_factor_then_normalise():
    ones = np.full((4, 4), 255, dtype=np.uint8)
    assert torch.allclose(Preprocessing(channels=1)(ones, "u8"), torch.ones(1, 4, 4))
    assert torch.allclose(Preprocessing(channels=1)(np.full((4, 4), 65535, dtype=np.uint16), "u16"), torch.ones(1, 4, 4))
    assert torch.allclose(Preprocessing(channels=1)(np.full((4, 4), 0.25, dtype=np.float32), "f"), torch.full((1, 4, 4), 0.25))
    assert torch.allclose(Preprocessing(channels=1, rescale=1 / 16)(np.full((4, 4), 8.0), "digits"), torch.full((1, 4, 4), 0.5))
    normalised = Preprocessing(channels=1, mean=(0.5,), std=(0.25,))(ones, "n")
    assert torch.allclose(normalised, torch.full((1, 4, 4), 2.0))


def test_channel_rules(mnist):
    digit = mnist[0][0]
    rgb = np.stack([digit, digit // 2, 255 - digit], axis=-1)
    grey_to_rgb = Preprocessing(channels=3)(digit, "g")
    assert grey_to_rgb.shape == (3, 28, 28) and torch.equal(grey_to_rgb[0], grey_to_rgb[2])
    rgba = np.concatenate([rgb, np.full((28, 28, 1), 7, np.uint8)], axis=-1)
    assert torch.equal(Preprocessing(channels=3)(rgba, "a"), Preprocessing(channels=3)(rgb, "c"))
    luma = Preprocessing(channels=1, rescale=1.0)(rgb, "l")[0].numpy()
    pillow_grey = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.float32)
    assert np.abs(luma - pillow_grey).max() <= 1.0  # Pillow rounds to 8 bits
    with pytest.raises(BadRecordError, match="5 channels, the model takes 3"):
        Preprocessing(channels=3)(np.zeros((8, 8, 5), np.float32), "five")


def test_invalid_settings_are_config_errors():
    with pytest.raises(ConfigError, match="one value per channel"):
        Preprocessing(channels=3, mean=(0.5,), std=(0.5,))
    with pytest.raises(ConfigError, match="resample"):
        Preprocessing(channels=1, resample="lanczos")
    with pytest.raises(ConfigError, match="give both"):
        Preprocessing(channels=1, mean=(0.5,))


def test_collate_pads_images_and_masks_padded_patches(make_config, mnist):
    tokenizer = ImageTokenizer(make_config(task="sequence-classification", num_labels=10))
    records = [Record("big", mnist[0][0], 7), Record("small", mnist[0][1][:14, :21], 2)]
    batch = tokenizer(records)
    assert batch.features.shape == (2, 1, 28, 28)
    assert batch.extras["grid"].tolist() == [[4, 4], [2, 3]]
    assert batch.padding_mask.shape == (2, 17)
    small = batch.padding_mask[1, 1:].view(4, 4)
    assert small[:2, :3].all() and small.sum() == 6 and batch.padding_mask[:, 0].all()
    assert batch.targets.tolist() == [7, 2]
    assert [tokenizer.num_tokens(tokenizer.encode(r)) for r in records] == [17, 7]
    assert torch.all(batch.features[1, :, 14:, :] == 0) and torch.all(batch.features[1, :, :, 21:] == 0)


def test_bad_records_name_their_reason(make_config, mnist):
    tokenizer = ImageTokenizer(make_config())
    cases = {
        "tiny": (mnist[0][0][:5, :5], "smaller than one 7x7 patch"),
        "flat": (mnist[0][0].reshape(-1), r"got shape \(784,\)"),
        "text": ("pixels", "got str"),
        "nan": (np.full((28, 28), np.nan, np.float32), "NaN"),
    }
    for record_id, (data, reason) in cases.items():
        with pytest.raises(BadRecordError, match=reason) as caught:
            tokenizer.encode(Record(record_id, data))
        assert caught.value.record_id == record_id
    with pytest.raises(BadRecordError, match="unreadable"):
        tokenizer.encode(Record("from-reader", None, error="unreadable image file"))


def test_prepare_config_learns_geometry_statistics_and_labels(host, make_config, mnist):
    images, labels = mnist
    records = [Record(str(i), images[i][..., None], int(labels[i])) for i in range(40)]
    base = make_config(task="sequence-classification").replace(domain_options={"patch_size": 7})
    learned = host.prepare_config(base, records)  # the domain's geometry and statistics, then the core's class names
    options = learned.domain_options
    assert options["channels"] == 1 and options["image_size"] == [28, 28] and options["resize"] == [28, 28]
    pixels = images[:40].astype(np.float64) / 255.0
    assert options["mean"][0] == pytest.approx(pixels.mean(), abs=1e-6)
    assert options["std"][0] == pytest.approx(pixels.std(), abs=1e-6)
    assert learned.labels == tuple(str(v) for v in sorted(set(labels[:40].tolist())))
    kept = prepare_config(base.replace(domain_options={**base.domain_options, "resize": None, "mean": None, "std": None}), records)
    assert kept.domain_options["resize"] is None and kept.domain_options["mean"] is None
    with pytest.raises(ConfigError, match="set domain_options.image_size"):
        prepare_config(base.replace(domain_options={"patch_size": 7, "resize": 24}), records)


def test_pixel_range_reads_values_by_meaning(mnist):
    """A recorded range scales any integer dtype alike (a resized image too) and rejects values beyond it;
    without one, integer dtypes other than uint8 / uint16 are refused rather than guessed."""
    digit = mnist[0][0]
    mnist_model = Preprocessing(channels=1, resize=(20, 20), pixel_dtype="uint8", pixel_range=(0, 255))
    expected = mnist_model(digit, "u8")
    for dtype in (np.int64, np.int32, np.int16, np.uint16):
        assert torch.equal(mnist_model(digit.astype(dtype), str(dtype)), expected)
    assert torch.allclose(mnist_model(digit.astype(np.float32) / 255, "f"), expected, atol=2 / 255)  # resized in float, not 8 bits
    negative = digit.astype(np.int16)
    negative[0, 0] = -1
    with pytest.raises(BadRecordError, match=r"pixel values -1..255 lie outside 0..255"):
        mnist_model(negative, "negative")
    digits_model = Preprocessing(channels=1, rescale=1 / 16, pixel_dtype="float32", pixel_range=(0.0, 16.0))
    eight = np.full((8, 8), 8)
    assert torch.equal(digits_model(eight.astype(np.int64), "i"), digits_model(eight.astype(np.float32), "f"))
    with pytest.raises(BadRecordError, match=r"pixel values 255..255 lie outside 0..16, the range of the float32 images"):
        digits_model(np.full((8, 8), 255, np.uint8), "eight-bit")
    imported = Preprocessing(channels=1)
    assert torch.equal(imported(digit, "u8"), Preprocessing(channels=1, pixel_dtype="uint8", pixel_range=(0, 255))(digit, "u8"))
    with pytest.raises(BadRecordError, match=r"int64 pixels have no known scale for this model"):
        imported(digit.astype(np.int64), "i64")
    with pytest.raises(ConfigError, match="go together"):
        Preprocessing(channels=1, pixel_dtype="uint8")
    with pytest.raises(ConfigError, match="does not fit pixel_dtype uint8"):
        Preprocessing(channels=1, pixel_dtype="uint8", pixel_range=(0, 300))


def test_prepare_config_records_the_training_pixel_range(make_config, mnist, caplog):
    images = mnist[0][:20]
    base = make_config().replace(domain_options={"patch_size": 7})

    def learned(stack) -> dict:
        options = prepare_config(base, [Record(str(i), image) for i, image in enumerate(stack)]).domain_options
        return {key: options.get(key) for key in ("pixel_dtype", "pixel_range")}
    assert learned(images) == {"pixel_dtype": "uint8", "pixel_range": [0, 255]}
    assert learned(images.astype(np.int64)) == {"pixel_dtype": "int64", "pixel_range": [np.iinfo(np.int64).min, np.iinfo(np.int64).max]}
    assert learned(images / 510.0) == {"pixel_dtype": "float64", "pixel_range": [0.0, 0.5]}
    assert learned([images[0], images[1].astype(np.uint16)]) == {"pixel_dtype": None, "pixel_range": None}
    assert "mix dtypes" in caplog.text
