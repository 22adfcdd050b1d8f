"""File suffixes the time-series readers accept, apart from the readers so that listing them imports nothing."""

TABLE_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
HDF5_SUFFIXES = (".h5", ".hdf5", ".nc", ".nc4")  # netCDF-4 files are HDF5 files
