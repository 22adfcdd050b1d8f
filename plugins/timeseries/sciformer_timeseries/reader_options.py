"""The options each time-series reader accepts (listed by `sciformer readers timeseries`), apart from the
readers so that listing them imports neither h5py nor pyarrow."""

#: Options that are settings of the model: a checkpoint supplies them at inference.
MODEL_OPTIONS = ("context", "horizon")

WINDOW_OPTIONS = {
    "context": "time steps of input in each window (the model's context length)",
    "horizon": "time steps forecast after each window (the model's prediction length)",
    "stride": "time steps between the starts of consecutive windows (default 1)",
    "start": "first time step of each series to use (default 0); train / valid / test take earlier / later parts",
    "stop": "time step of each series to stop before (default: the end of the series; negative counts from the end)",
    "nan_policy": "'bad' (default): a window with a missing value is a bad record; 'fill': filled, kept out of the loss",
    "future": "'true': also a last window per series ending at its end, without target (a forecast of the unknown future)",
    "season": "scoring: period of the seasonal-naive baseline in time steps (e.g. 24 for hourly data; default: none)",
    "samples": "scoring, encoder-decoder models: sampled paths per window whose mean is the forecast (default: the model's num_parallel_samples)",
    "seed": "scoring, encoder-decoder models: seed of the sampled paths, with each record's id (default 0)",
    "ets": "scoring: 'true' adds the exponential-smoothing baseline, fitted per window and channel (statsmodels; default false)",
}
TABLE_OPTIONS = {
    **WINDOW_OPTIONS,
    "time_column": "column of time stamps (default 'time' when the table has it; else the row order)",
    "series_column": "long tables: the column naming each row's series (default 'series' when present; else the table is wide)",
    "value_columns": "comma-separated channel columns (default: every column but the time and series columns)",
}
HDF5_OPTIONS = {
    **WINDOW_OPTIONS,
    "variables": "comma-separated (time, ...) datasets that become channels (default: every one, coordinates left out)",
    "time_dataset": "dataset of time stamps (default 'time' when present)",
}
