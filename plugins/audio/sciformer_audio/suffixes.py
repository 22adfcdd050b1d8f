"""File suffixes the audio readers accept, apart from the readers so that listing them imports nothing."""

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
HDF5_SUFFIXES = (".h5", ".hdf5")
