"""The options each audio reader accepts (listed by `sciformer readers audio`), apart from the readers
so that listing them imports no audio library."""

from sciformer.reader_options import table_options

FOLDER_OPTIONS = {"folder_labels": "true: a file's target is the name of its first sub-folder (default false)"}
MANIFEST_OPTIONS = {
    **table_options("file"),
    "id_column": "column of record ids (default: the model's id column or 'id', when the table has it; else the file path)",
    "root": "folder the paths are relative to (default: the manifest's own folder; itself relative to that folder)",
}
HDF5_OPTIONS = {
    "dataset": "dataset of waveform rows (default 'waveforms')",
    "sample_rate": "sample rate of the rows in Hz (default: the dataset's or the file's sample_rate attribute)",
    "id_column": "dataset of record ids (default: the model's id dataset or 'ids', when the file has it; else the row number)",
    "target_column": "dataset of targets (default: the model's target dataset when the file has it)",
}
