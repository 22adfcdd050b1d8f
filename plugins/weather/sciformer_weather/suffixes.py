"""File suffixes the weather readers accept, apart from the sources so that listing them imports nothing."""

HDF5_SUFFIXES = (".h5", ".hdf5")
NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf", ".netcdf")
SELECTION_SUFFIXES = (".json",)
ZARR_SUFFIXES = (".zarr",)  # a zarr store is a folder
