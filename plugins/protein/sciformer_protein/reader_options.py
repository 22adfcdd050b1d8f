"""The options each protein reader accepts (listed by `sciformer readers protein`), apart from the
readers so that listing them imports nothing."""

from sciformer.reader_options import table_options

SCORING_OPTIONS = {
    "layer": "scoring: the layer of embedding, bos and token_embeddings: 0 = embeddings, k = block k, -1 = last, after the final norm (default -1)",
}
TABLE_OPTIONS = {
    **table_options("sequence"),
    "label_mask_column": "column of 0/1 per residue: residues marked 0 have no label (default: the model's mask column when the table has it)",
    "unlabelled": "the label character of residues without a label (the model's, default '.')",
    **SCORING_OPTIONS,
}
TABLE_MODEL_OPTIONS = ("unlabelled",)  # must be the tokenizer's mark, so it comes with the model
HDF5_OPTIONS = {
    "dataset": "1-D string dataset of sequences (default 'sequences', or 'sequence')",
    "id_column": "dataset of record ids (default: the model's id dataset when the file has it, else the row number)",
    "target_column": "dataset of targets (default: the model's target dataset when the file has it)",
    **SCORING_OPTIONS,
}
