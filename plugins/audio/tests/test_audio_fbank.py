"""Parity of the torch front end with kaldi-native-fbank and transformers' ASTFeatureExtractor.

Both references compute in float32 like ours (Kaldi's own precision), so log-mel values agree to
float32 rounding: largest where a band's energy is tiny (log values near -15), ~1e-4 there.
"""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest
import torch
from sciformer.config import ModelConfig
from sciformer.records import Record
from sciformer_audio.fbank import EPSILON, KaldiFbank, Spectrogram, frame_counts, mel_banks
from sciformer_audio.frontend import AudioFrontend
from sciformer_audio.settings import AudioSettings
from sciformer_audio.tokenizer import NUM_SAMPLES, WaveformTokenizer
from sciformer_audio.waveform import Waveform, resample
from transformers import ASTFeatureExtractor

LOG_MEL_TOLERANCE = 1e-3  # float32 rounding of independent implementations, in natural-log units


def kaldi_reference(samples: np.ndarray, sample_rate: int, num_bins: int) -> np.ndarray:
    """kaldi-native-fbank with AST's settings: hanning window, no dither, snip edges, no energy."""
    options = knf.FbankOptions()
    options.frame_opts.samp_freq = sample_rate
    options.frame_opts.dither = 0.0
    options.frame_opts.window_type = "hanning"
    options.frame_opts.snip_edges = True
    options.mel_opts.num_bins = num_bins
    options.use_energy = False
    fbank = knf.OnlineFbank(options)
    fbank.accept_waveform(sample_rate, samples.tolist())
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


def ours(samples: np.ndarray, sample_rate: int, num_bins: int) -> np.ndarray:
    """Our fbank of one waveform."""
    features, inside = KaldiFbank(sample_rate, num_bins)(torch.from_numpy(samples)[None], torch.tensor([samples.shape[0]]))
    return features[0, inside[0]].numpy()


def test_fbank_matches_kaldi_on_fsdd_recordings(fsdd_waveforms: list[np.ndarray]) -> None:
    """Real 8 kHz speech, 64 bins (the shipped model's front end), mean removed as AST does."""
    for samples in fsdd_waveforms:
        centred = samples - samples.mean()
        reference = kaldi_reference(centred, 8000, 64)
        computed = ours(centred, 8000, 64)
        assert computed.shape == reference.shape
        assert np.abs(computed - reference).max() < LOG_MEL_TOLERANCE


@pytest.mark.parametrize("sample_rate, num_bins, length", [(16000, 80, 16000), (16000, 126, 5123), (8000, 23, 2000)])
def test_fbank_matches_kaldi_on_random_waveforms(sample_rate: int, num_bins: int, length: int) -> None:
    """Random noise with a DC offset, several rates and bin counts."""
    samples = (0.2 * np.random.default_rng(length).standard_normal(length) + 0.05).astype(np.float32)
    reference = kaldi_reference(samples, sample_rate, num_bins)
    computed = ours(samples, sample_rate, num_bins)
    assert computed.shape == reference.shape
    assert np.abs(computed - reference).max() < LOG_MEL_TOLERANCE


def test_empty_mel_band_is_floored_like_ast() -> None:
    """128 bins at 16 kHz leave band 3 without an FFT bin: Kaldi refuses, AST keeps log(epsilon)."""
    banks = mel_banks(128, 512, 16000, 20.0, 0.0)
    assert banks.sum(dim=1).eq(0).nonzero().flatten().tolist() == [3]
    samples = torch.randn(1, 4000) * 0.1
    features, _ = KaldiFbank(16000, 128)(samples, torch.tensor([4000]))
    assert torch.all(features[0, :, 3] == torch.log(torch.tensor(EPSILON)))
    with pytest.raises(ValueError):
        kaldi_reference(samples[0].numpy(), 16000, 128)


def extractor_features(waveforms: list[np.ndarray], max_length: int) -> torch.Tensor:
    """transformers' AST features (its numpy Kaldi path: torchaudio is not installed here)."""
    extractor = ASTFeatureExtractor(num_mel_bins=128, max_length=max_length, mean=-5.0, std=3.5)
    return torch.from_numpy(np.stack(extractor(waveforms, sampling_rate=16000)["input_values"])).float()


def our_features(waveforms: list[np.ndarray], max_length: int) -> torch.Tensor:
    """Our tokenizer and front end with the same settings, the records batched together."""
    config = ModelConfig(domain="audio", domain_options={"max_length": max_length, "norm_mean": -5.0, "norm_std": 3.5})
    tokenizer = WaveformTokenizer(config)
    batch = tokenizer([Record(str(i), Waveform(w, 16000)) for i, w in enumerate(waveforms)])
    return AudioFrontend(AudioSettings.from_config(config))(batch.features, batch.extras[NUM_SAMPLES])


@pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")  # band 3, as above
def test_features_match_ast_feature_extractor(fsdd_waveforms: list[np.ndarray]) -> None:
    """128-bin AST features of real speech resampled to 16 kHz and of random audio, padded and cropped."""
    rng = np.random.default_rng(1)
    waveforms = [resample(w, 8000, 16000) for w in fsdd_waveforms]
    waveforms += [(0.2 * rng.standard_normal(n)).astype(np.float32) for n in (400, 9000, 30000)]
    for max_length in (64, 200):  # crops some records and pads others
        expected = extractor_features(waveforms, max_length)
        computed = our_features(waveforms, max_length)
        assert computed.shape == expected.shape == (len(waveforms), max_length, 128)
        # (x - mean) / (2 std) divides the log-mel tolerance by 2 * 3.5
        assert (computed - expected).abs().max() < LOG_MEL_TOLERANCE / 7


def test_frame_counts_follow_snip_edges() -> None:
    """Kaldi's frame count: 1 + (n - 400) // 160 at 16 kHz, zero below one window."""
    lengths = torch.tensor([0, 399, 400, 559, 560, 16000])
    assert frame_counts(lengths, 400, 160).tolist() == [0, 0, 1, 1, 2, 98]


def test_features_do_not_depend_on_batch_padding(fsdd_waveforms: list[np.ndarray]) -> None:
    """A record's features alone equal its features batched with a longer record."""
    fbank = KaldiFbank(8000, 64)
    short, long = fsdd_waveforms[0], np.concatenate(fsdd_waveforms)
    alone, _ = fbank(torch.from_numpy(short)[None], torch.tensor([len(short)]))
    padded = torch.zeros(2, len(long))
    padded[0, : len(short)] = torch.from_numpy(short)
    padded[1] = torch.from_numpy(long)
    together, inside = fbank(padded, torch.tensor([len(short), len(long)]))
    frames = alone.shape[1]
    assert torch.equal(together[0, :frames], alone[0])
    assert not together[0, frames:].any() and inside[0].sum() == frames


def test_spectrogram_matches_numpy_stft() -> None:
    """The plain STFT front end equals a numpy reference: Hann-windowed frames, |rfft|^p, log floor."""
    rng = np.random.default_rng(2)
    samples = (0.1 * rng.standard_normal(3000)).astype(np.float32)
    window_size, shift, fft = 200, 80, 256
    frames = np.stack([samples[i : i + window_size] for i in range(0, len(samples) - window_size + 1, shift)]).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(window_size), n=fft))
    for power in (1.0, 2.0):
        expected = np.log(np.maximum(spectrum**power, EPSILON))
        computed, _ = Spectrogram(8000, power=power)(torch.from_numpy(samples)[None], torch.tensor([3000]))
        assert computed.shape[1:] == expected.shape
        assert np.abs(computed[0].numpy() - expected).max() < LOG_MEL_TOLERANCE
    linear, _ = Spectrogram(8000, power=2.0, log=False)(torch.from_numpy(samples)[None], torch.tensor([3000]))
    np.testing.assert_allclose(linear[0].numpy(), spectrum**2, rtol=1e-4, atol=1e-6)


def test_frontend_runs_under_bfloat16_autocast(fsdd_waveforms: list[np.ndarray]) -> None:
    """The front end keeps float32 inside autocast, so features do not change with the model's dtype."""
    samples = torch.from_numpy(fsdd_waveforms[1])[None]
    lengths = torch.tensor([samples.shape[1]])
    fbank = KaldiFbank(8000, 64)
    plain, _ = fbank(samples, lengths)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast, _ = fbank(samples, lengths)
    assert autocast.dtype == torch.float32 and torch.equal(plain, autocast)
