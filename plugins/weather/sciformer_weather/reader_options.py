"""The options each weather reader accepts (listed by `sciformer readers weather`), apart from the
readers so that listing them imports neither h5py nor xarray."""

COMMON = {
    "lead": "time steps between a record's input and its target (default 1)",
    "rollout": "training: targets at lead, 2 lead, ..., k lead for a k-step rollout loss (default 1)",
    "leads": "scoring: comma-separated lead times in time steps; forecasts and skill at each (default: the model's step)",
    "all_leads": "scoring with leads: only the time indices whose truth at every lead lies in the file or window (default false)",
    "start": "first time index to use (default 0)",
    "stop": "time index to stop before (default: the end of the file)",
    "climatology": "scoring: a climatology file for ACC and the climatology baseline (default: the model's own)",
}
HDF5_OPTIONS = {**COMMON, "dataset": "the (time, channel, lat, lon) dataset (default 'fields')"}
XARRAY_OPTIONS = {**COMMON, "variables": "comma-separated variables to become channels (default: every (time, lat, lon) variable)"}
SELECTION_OPTIONS = {**HDF5_OPTIONS, **XARRAY_OPTIONS}  # a selection names a file of either kind
