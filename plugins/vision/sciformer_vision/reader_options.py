"""The options each vision reader accepts (listed by `sciformer readers vision`), apart from the readers
so that listing them imports neither h5py nor Pillow."""

STACK_OPTIONS = {
    "dataset": "the image array (default 'images', or the only 3-D / 4-D array)",
    "layout": "auto (default), NHWC, NCHW or NHW",
    "target_column": "array of labels (default: the model's label array or 'labels', when the file has it)",
    "id_column": "array of record ids (default: the model's id array when the file has it, else the index)",
}
IMAGE_OPTIONS = {"frames": "first (default: the first frame of a multi-frame file) or channels (every frame one channel)"}
PIXEL_TABLE_OPTIONS = {
    "target_column": "column of labels (default: the model's label column or 'label', when the table has it; empty for none)",
    "id_column": "column of record ids (default: the model's id column or 'id', when the table has it; else the row number)",
    "pixel_prefix": "pixel columns are PREFIX0, PREFIX1, ... (default 'p')",
    "image_shape": "[H, W] or [H, W, C], channels last (default: square, one channel)",
}
