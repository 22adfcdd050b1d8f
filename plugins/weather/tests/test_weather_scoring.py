"""`sciformer score` on a forecaster: forecasts at each lead, per-record skill and its file-level means.

The cross-check is a direct computation: `Forecaster` rollouts of whole arrays and the metrics over
them, on the same initial times with the same climatology, must give the same numbers. `sciformer
weather evaluate` is a score run on the initial times that have every lead's truth (`all_leads`)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from sciformer.checkpoint import load_checkpoint, resolve_model
from sciformer.cli.main import build_cli
from sciformer.errors import ConfigError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.scoring import score, score_chunk
from sciformer.scoring.scorer import scorer_for
from sciformer_weather import EXAMPLE
from sciformer_weather.evaluate import evaluate
from sciformer_weather.grid import latitude_weights
from sciformer_weather.metrics import weighted_acc, weighted_rmse
from sciformer_weather.reader import LeadTruths, all_leads_option, leads_option
from sciformer_weather.rollout import Forecaster, steps_for
from sciformer_weather.scoring import CLIMATOLOGY_FILE, FORECASTERS
from sciformer_weather.sources import open_fields
from sciformer_weather.stats import Climatology, compute_climatology

MODEL = "afno-era5-uk-t2m"
LEADS = (1, 6)
COLUMNS = [f"{kind}_{name}" for kind in ("rmse", "acc") for name in FORECASTERS]
HOURS = 48  # time steps of the shipped file


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


@pytest.fixture(scope="module")
def model_dir(host: PluginHost) -> Path:
    return resolve_model(MODEL, host)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory, host: PluginHost) -> Path:
    """The shipped hours scored at leads 1 and 6 h with the shipped model and its climatology."""
    output = tmp_path_factory.mktemp("weather-score") / "scores.h5"
    summary = score(MODEL, EXAMPLE, output, host, options={"leads": "1,6"}, chunk_records=16)
    assert summary.scored == HOURS and summary.bad == 0 and summary.stopped is None
    return output


def reference(host: PluginHost, model_dir: Path, path: Path) -> tuple[dict[str, np.ndarray], int]:
    """The mean of each skill column (L, C) over the initial times whose longest lead is in the file and whose
    input is finite, computed directly on whole arrays; and how many initial times had a non-finite input."""
    forecaster = Forecaster(load_checkpoint(model_dir, host))
    climatology = Climatology.load(model_dir / CLIMATOLOGY_FILE)
    with open_fields(path) as fields:
        data, hours = fields.read(0, HOURS), fields.grid.hours_of_day()
        weights = latitude_weights(fields.grid.latitudes, fields.grid.shape[0])
    inits = np.array([t for t in range(HOURS - max(LEADS)) if np.isfinite(data[t]).all()])
    rollouts = forecaster.forecast(data[inits], max(LEADS), hours[inits])  # (steps, n, C, H, W); one step is one hour
    truths = np.stack([data[inits + lead] for lead in LEADS], axis=1)  # (n, L, C, H, W)
    normal = np.stack([climatology.at(hours[inits + lead], len(inits)) for lead in LEADS], axis=1)
    persistence = np.broadcast_to(data[inits][:, None], truths.shape)
    means = {}
    for name, guess in (("model", np.stack([rollouts[lead - 1] for lead in LEADS], axis=1)), ("persistence", persistence), ("climatology", normal)):
        means[f"rmse_{name}"] = weighted_rmse(guess, truths, weights).mean(axis=0)
        means[f"acc_{name}"] = weighted_acc(guess, truths, normal, weights).mean(axis=0)
    return means, HOURS - max(LEADS) - len(inits)


def read_all(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of a results file (the `skill` group's as `skill/<name>`)."""
    values: dict[str, np.ndarray] = {}
    with h5py.File(path) as handle:
        handle.visititems(lambda name, item: values.__setitem__(name, item[:]) if isinstance(item, h5py.Dataset) else None)
    return values


def test_mean_record_skill_equals_the_direct_computation_at_every_lead(scored: Path, host: PluginHost, model_dir: Path) -> None:
    """Over the initial times whose 6 h truth is in the file (0..41), the mean of each per-record score is
    the directly computed one, for the model and both baselines, RMSE and ACC, at every lead."""
    expected, skipped = reference(host, model_dir, EXAMPLE)
    assert skipped == 0
    with h5py.File(scored) as results:
        for name in COLUMNS:
            mean = results[name][: HOURS - max(LEADS)].astype(np.float64).mean(axis=0)  # (L, C)
            np.testing.assert_allclose(mean, expected[name], atol=1e-5, err_msg=name)
        assert results["rmse_model"][0, 1, 0] != results["rmse_persistence"][0, 1, 0]  # the scores differ between forecasters


def test_evaluate_is_a_score_run_on_the_initial_times_with_every_lead(scored: Path, host: PluginHost, model_dir: Path, tmp_path: Path) -> None:
    """`weather evaluate` writes the score layout for initial times 0..41 only; its skill/ means are the
    means of the full score file's rows 0..41, and its rows are those rows."""
    result = evaluate(MODEL, EXAMPLE, LEADS, model_dir / CLIMATOLOGY_FILE, tmp_path / "eval.h5", host, batch_size=5)
    assert result.samples == HOURS - max(LEADS) and result.skipped == 0 and result.leads == list(LEADS) and result.channels == ("t2m",)
    with h5py.File(scored) as whole, h5py.File(tmp_path / "eval.h5") as part:
        rows = HOURS - max(LEADS)
        assert list(part["record_id"].asstr()[:]) == list(whole["record_id"].asstr()[:rows])
        assert list(part["skill/samples"][:]) == [rows, rows]
        np.testing.assert_array_equal(part["forecast"][:], whole["forecast"][:rows])
        for name in COLUMNS:
            np.testing.assert_array_equal(part[name][:], whole[name][:rows], err_msg=name)
            forecaster = name.split("_", 1)[1]
            value = result.rmse[forecaster] if name.startswith("rmse") else result.acc[forecaster]
            np.testing.assert_allclose(value, whole[name][:rows].astype(np.float64).mean(axis=0), rtol=1e-12, err_msg=name)


def test_leads_beyond_the_file_are_nan_and_left_out_of_the_means(scored: Path) -> None:
    """Every hour is a record; a record's skill at a lead past the file's end is NaN and not averaged."""
    with h5py.File(scored) as results:
        assert len(results["status"]) == HOURS and list(results["record_id"].asstr()[-1:]) == ["2019-03-26T23:00"]
        assert list(results["forecast"].attrs["leads"]) == list(LEADS) and list(results["forecast"].attrs["lead_hours"]) == [1.0, 6.0]
        for name in COLUMNS:
            values = results[name][:]  # (N, L, C)
            for i, lead in enumerate(LEADS):
                assert np.isfinite(values[: HOURS - lead, i]).all(), name
                assert np.isnan(values[HOURS - lead :, i]).all(), name
            np.testing.assert_allclose(results[f"skill/{name}"][:], np.nanmean(values.astype(np.float64), axis=0), rtol=1e-12)
            assert list(results[f"skill/{name}"].attrs["leads"]) == list(LEADS)
        assert list(results["skill/samples"][:]) == [HOURS - lead for lead in LEADS]
        assert "acc_model" in results.attrs["skill"] and '"samples": [47, 42]' in results.attrs["skill"]


def test_forecast_at_one_step_is_the_model_one_step_forecast(scored: Path, host: PluginHost, model_dir: Path) -> None:
    """Lead 1 step is the head's de-normalised prediction; without `leads`, score writes just that lead."""
    net = load_checkpoint(model_dir, host).eval()
    records = list(read_records(host, "weather", EXAMPLE, {"lead": 1}))
    one_step, _ = score_chunk(net, host.tokenizer(net.config), records, batch_tokens=1 << 16, outputs=["forecast"])
    assert one_step["forecast"].shape == (HOURS - 1, 1, 33, 49)  # the engine's scorer: the head's own column
    with h5py.File(scored) as results:
        np.testing.assert_allclose(results["forecast"][: HOURS - 1, 0], one_step["forecast"], atol=1e-4)
    default, _ = score_chunk(net, host.tokenizer(net.config), records, batch_tokens=1 << 16, scorer=scorer_for(host, net, {"lead": 1}, model_dir))
    assert set(default) == {"record_id", "status", "error", "embedding", "init_time", "forecast"}  # no truths: no skill columns
    np.testing.assert_array_equal(default["forecast"][:, 0], one_step["forecast"])
    with h5py.File(EXAMPLE) as source:
        np.testing.assert_array_equal(default["init_time"], source["time"][: HOURS - 1])  # seconds since 1970-01-01 UTC


def test_bad_records_are_marked_and_left_out(tmp_path: Path, host: PluginHost, model_dir: Path) -> None:
    """An hour with a NaN is status 1 and has no skill; the others match the direct computation, which skips
    it as an initial time and leaves the NaN point out where it is a truth; `weather evaluate` counts it skipped."""
    broken = tmp_path / "broken.h5"
    shutil.copy(EXAMPLE, broken)
    with h5py.File(broken, "r+") as handle:
        handle["fields"][10, 0, 5, 5] = np.nan
    output = tmp_path / "scores.h5"
    summary = score(MODEL, broken, output, host, options={"leads": "1,6"})
    assert summary.bad == 1 and summary.scored == HOURS - 1
    expected, skipped = reference(host, model_dir, broken)
    assert skipped == 1
    with h5py.File(output) as results:
        assert results["status"][10] == 1 and "non-finite" in results["error"].asstr()[10]
        assert np.isnan(results["rmse_model"][10]).all() and np.isnan(results["forecast"][10]).all()
        assert list(results["skill/samples"][:]) == [HOURS - lead - 1 for lead in LEADS]
        rows = [row for row in range(HOURS - max(LEADS)) if row != 10]
        for name in COLUMNS:
            np.testing.assert_allclose(results[name][rows].astype(np.float64).mean(axis=0), expected[name], atol=1e-5, err_msg=name)
            assert np.isfinite(results[f"skill/{name}"][:]).all()
    evaluated = evaluate(MODEL, broken, LEADS, model_dir / CLIMATOLOGY_FILE, tmp_path / "eval.h5", host)
    assert evaluated.samples == HOURS - max(LEADS) - 1 and evaluated.skipped == 1


def test_forecast_and_truth_outputs_and_their_maps(tmp_path: Path, host: PluginHost) -> None:
    """`--outputs forecast,truth` writes those two only; `weather plot` draws a record's maps from them."""
    cli = build_cli(host)
    output, png = tmp_path / "scores.h5", tmp_path / "maps.png"
    args = ["score", "--model", MODEL, "--input", str(EXAMPLE), "--option", "leads=1,6", "--outputs", "forecast,truth", "--output", str(output)]
    result = CliRunner().invoke(cli, args, obj=host)
    assert result.exit_code == 0, result.output
    with h5py.File(output) as results, h5py.File(EXAMPLE) as source:
        assert set(results) == {"record_id", "status", "error", "forecast", "truth"} and "skill" not in results.attrs
        fields = source["fields"][:]
        np.testing.assert_array_equal(results["truth"][3, 1], fields[9])  # record 3 at lead 6
        np.testing.assert_array_equal(results["truth"][45, 0], fields[46])
        assert np.isnan(results["truth"][45, 1]).all() and np.isfinite(results["forecast"][45]).all()
    result = CliRunner().invoke(cli, ["weather", "plot", str(output), "--out", str(png), "--record", "2019-03-25T06:00", "--lead", "6"], obj=host)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    result = CliRunner().invoke(cli, ["weather", "plot", str(output), "--out", str(tmp_path / "none.png"), "--init", "45", "--lead", "6"], obj=host)
    assert result.exit_code == 1 and "no truth at lead 6" in result.output


def test_time_limit_then_resume_gives_the_same_file(scored: Path, tmp_path: Path, host: PluginHost) -> None:
    """A run stopped after its first chunk summarises the rows it scored; resumed, it equals a whole run."""
    output = tmp_path / "scores.h5"
    stopped = score(MODEL, EXAMPLE, output, host, options={"leads": "1,6"}, chunk_records=16, time_limit=0.0)
    assert stopped.stopped == "time limit" and stopped.scored == 16 and stopped.pending == HOURS - 16
    with h5py.File(output) as partial:
        assert list(partial["status"][:]) == [0] * 16 + [2] * (HOURS - 16)
        assert list(partial["skill/samples"][:]) == [16, 16]
        np.testing.assert_allclose(partial["skill/rmse_model"][:], partial["rmse_model"][:16].astype(np.float64).mean(axis=0), rtol=1e-12)
    resumed = score(MODEL, EXAMPLE, output, host, options={"leads": "1,6"}, chunk_records=16, resume=True)
    assert resumed.stopped is None and resumed.processed == HOURS - 16 and resumed.scored == HOURS
    whole, again = read_all(scored), read_all(output)
    assert sorted(whole) == sorted(again) and any(name.startswith("skill/") for name in whole)
    for name, values in whole.items():
        if values.dtype.kind == "f":
            np.testing.assert_array_equal(again[name], values, err_msg=name)
        else:
            assert list(again[name]) == list(values), name


def test_climatology_option_or_none(tmp_path: Path, host: PluginHost, model_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Without a climatology the climatology baseline and every ACC are left out (and the log says so);
    `climatology=FILE` brings them back."""
    bare = tmp_path / "model"
    shutil.copytree(model_dir, bare, ignore=shutil.ignore_patterns(CLIMATOLOGY_FILE))
    with caplog.at_level(logging.WARNING, logger="sciformer_weather.scoring"):
        score(bare, EXAMPLE, tmp_path / "bare.h5", host, options={"leads": 1})
    assert "no climatology" in caplog.text
    with h5py.File(tmp_path / "bare.h5") as results:
        assert sorted(results["skill"]) == ["rmse_model", "rmse_persistence", "samples"]
        assert not any(name.startswith("acc") or name.endswith("climatology") for name in results)
    score(bare, EXAMPLE, tmp_path / "with.h5", host, options={"leads": 1, "climatology": str(model_dir / CLIMATOLOGY_FILE)})
    with h5py.File(tmp_path / "with.h5") as results, h5py.File(tmp_path / "bare.h5") as without:
        assert "acc_model" in results and "rmse_climatology" in results["skill"]
        np.testing.assert_array_equal(results["rmse_model"][:], without["rmse_model"][:])
    with open_fields(EXAMPLE) as fields:
        short = compute_climatology(fields, 0, 48, "hour").save(tmp_path / "two-days.h5")
    with pytest.raises(ConfigError, match="averages 2 day"):
        score(bare, EXAMPLE, tmp_path / "short.h5", host, options={"leads": 1, "climatology": str(short)})


def test_leads_option_and_lead_records() -> None:
    """`leads` parses to sorted positive time steps; records then carry a truth per lead (None past the end)."""
    assert leads_option({"leads": "24, 1,6"}) == (1, 6, 24) and leads_option({"leads": 6}) == (6,) and leads_option({}) is None
    for bad in ("0,1", "a", -3):
        with pytest.raises(ConfigError, match="leads"):
            leads_option({"leads": bad})
    with pytest.raises(ConfigError, match="multiples of the model step"):
        steps_for([2, 3], 2)
    records = list(read_records(PluginHost(), "weather", EXAMPLE, {"leads": "1,6", "lead": 1}))
    assert len(records) == HOURS and isinstance(records[0].target, LeadTruths)
    assert [ref.index for ref in records[0].target.fields] == [1, 6]
    assert records[44].target.fields[1] is None and records[44].target.fields[0].index == 45
    complete = list(read_records(PluginHost(), "weather", EXAMPLE, {"leads": "1,6", "all_leads": "true", "start": 10, "stop": 30}))
    assert len(complete) == 14 and all(ref is not None for record in complete for ref in record.target.fields)
    assert all_leads_option({}) is False and all_leads_option({"all_leads": True}) and not all_leads_option({"all_leads": "0"})
    with pytest.raises(ConfigError, match="all_leads"):
        all_leads_option({"all_leads": "sometimes"})


def test_float64_fields_give_the_float32_forecast(tmp_path: Path, host: PluginHost, scored: Path) -> None:
    """The shipped fields stored as float64 score exactly as the float32 file does."""
    wide = tmp_path / "float64.h5"
    shutil.copy(EXAMPLE, wide)
    with h5py.File(wide, "r+") as handle:
        fields, attributes = handle["fields"][:], dict(handle["fields"].attrs)
        del handle["fields"]
        handle.create_dataset("fields", data=fields.astype(np.float64)).attrs.update(attributes)
    output = tmp_path / "scores.h5"
    summary = score(MODEL, wide, output, host, options={"leads": "1,6"}, chunk_records=16)
    assert summary.scored == HOURS and summary.bad == 0
    wide_results, narrow_results = read_all(output), read_all(scored)
    assert sorted(wide_results) == sorted(narrow_results) and "forecast" in wide_results
    for name, values in wide_results.items():
        np.testing.assert_array_equal(values, narrow_results[name], err_msg=name)
